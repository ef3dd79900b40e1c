"""Texts the banner shows, as lazy strings from the one Babel catalog."""
from flask_babel import lazy_gettext as _l

# The first layer's texts travel with widget.js (W-12: the banner shows after one request).
FIRST_LAYER = {
    "title": _l("We use cookies"),
    # C-03: who asks (the controller, from the site file), what for, and that it can be undone;
    # C-02: the third parties of device marketing by name, and the way to withdraw (C-08).
    "body": _l("%(controller)s uses cookies that are strictly necessary for the website to "
               "work. With your consent we also use cookies for statistics and for ads from "
               "Google and Meta and measuring them. You can change your choice or withdraw "
               "your consent at any time under “Change consent”."),
    "accept_all": _l("Accept all"),
    # W-09: under Global Privacy Control the button says what it does.
    "accept_gpc": _l("Accept all but marketing"),
    "reject_all": _l("Reject all"),
    "settings": _l("Settings"),
    "change": _l("Change consent"),
    "privacy_link": _l("Privacy notice"),
    "gpc": _l("Your browser sends a Global Privacy Control signal that you do not want "
              "marketing, so it is off unless you turn it on yourself under “Settings”."),
    # Over a held-back iframe of any kind (a video, a map, a post) and for any purpose.
    "placeholder": _l("This content is shown only once you consent to it."),
}
# The settings layer's, in /api/v1/config (loaded with that layer).
SETTINGS_LAYER = {
    "settings_title": _l("Cookie settings"),
    "save": _l("Save settings"),
    "close": _l("Close"),
    "always_on": _l("Always on"),
    "consent_id": _l("Your consent ID"),
    "consent_date": _l("Chosen on"),
}


def banner_texts(controller: str, first_layer_only: bool = False) -> dict[str, str]:
    """The banner texts in the current request's language, naming the site's controller."""
    chosen = FIRST_LAYER if first_layer_only else {**FIRST_LAYER, **SETTINGS_LAYER}
    texts = {key: str(value) for key, value in chosen.items()}
    texts["body"] %= {"controller": controller}
    return texts
