"""Texts the banner shows, as lazy strings from the one Babel catalog."""
from flask_babel import lazy_gettext as _l

BANNER = {
    "title": _l("We use cookies"),
    # C-03: who asks (the controller, from the site file), what for, and that it can be undone.
    "body": _l("%(controller)s uses cookies that are strictly necessary for the website to work. "
               "With your consent we also use cookies for statistics and marketing. You choose, "
               "and you can change or withdraw your consent at any time."),
    "accept_all": _l("Accept all"),
    "reject_all": _l("Reject all"),
    "settings": _l("Settings"),
    "save": _l("Save settings"),
    "close": _l("Close"),
    "withdraw": _l("Withdraw consent"),
    "change": _l("Change consent"),
    "privacy_link": _l("Privacy notice"),
    "gpc": _l("Your browser sends a Global Privacy Control signal. We treat it as a refusal of "
              "marketing: it stays off unless you turn it on yourself in the settings."),
    "always_on": _l("Always on"),
}


def banner_texts(controller: str) -> dict[str, str]:
    """The banner texts in the current request's language, naming the site's controller."""
    texts = {key: str(value) for key, value in BANNER.items()}
    texts["body"] %= {"controller": controller}
    return texts
