"""Language choice: ?lang=, then Accept-Language, then Norwegian bokmål."""
from flask import current_app, request

# "no" (Norwegian, unspecified) is read as bokmål, as most Norwegian text is; nn is nynorsk (N-08).
ALIASES = {"no": "nb"}
# Each language's name in itself, for the language links on pages (a reader looks for their own).
NAMES = {"nb": "Norsk bokmål", "nn": "Norsk nynorsk", "en": "English"}


def normalise(tag: str | None) -> str | None:
    """A supported language for a language tag ("nb-NO", "no" -> "nb"; "nn_NO" -> "nn";
    "en-GB" -> "en"), or None."""
    primary = (tag or "").strip().lower().replace("_", "-").split("-")[0]
    primary = ALIASES.get(primary, primary)
    return primary if primary in current_app.config["LANGUAGES"] else None


def others(lang: str) -> list[tuple[str, str]]:
    """The other configured languages as (code, name in itself), for a page's language links."""
    return [(code, NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]
            if code != lang]


def select_locale() -> str:
    """The request's language: a supported ?lang=, else the best Accept-Language, else nb."""
    if lang := normalise(request.args.get("lang")):
        return lang
    for tag, _quality in request.accept_languages:  # already sorted by quality
        if lang := normalise(tag):
            return lang
    return current_app.config["DEFAULT_LANGUAGE"]
