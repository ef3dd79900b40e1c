"""Language choice: ?lang=, then Accept-Language, then Norwegian bokmål."""
from flask import current_app, request

NORWEGIAN = {"nb", "no", "nn"}


def normalise(tag: str | None) -> str | None:
    """A supported language for a language tag ("nb-NO", "no", "nn" -> "nb"; "en-GB" -> "en")."""
    primary = (tag or "").strip().lower().replace("_", "-").split("-")[0]
    if primary in NORWEGIAN:
        primary = "nb"
    return primary if primary in current_app.config["LANGUAGES"] else None


def select_locale() -> str:
    """The request's language: a supported ?lang=, else the best Accept-Language, else nb."""
    if lang := normalise(request.args.get("lang")):
        return lang
    for tag, _quality in request.accept_languages:  # already sorted by quality
        if lang := normalise(tag):
            return lang
    return current_app.config["DEFAULT_LANGUAGE"]
