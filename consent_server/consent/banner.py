"""What the banner shows and is configured with: its texts, /api/v1/config, and its first layer
inside widget.js; and the consent cookie the server sets itself under CONSENT_COOKIE_DOMAIN."""
import json
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import Session
from werkzeug.http import dump_cookie

from ..vocabulary import DEFAULT_SITE
from . import disclosures, notices, purposes
from .site import Site

# Seconds a browser or cache may keep widget.js or /api/v1/config before asking again: both
# carry the valid notice versions, so this bounds how long a material change takes to reach a
# returning visitor (C-09, N-04; web/widget.py adds its own look-up interval).
FRESH_SECONDS = 10

# The first layer's texts travel with widget.js (W-12: the banner shows after one request).
FIRST_LAYER = {
    "title": _l("We use cookies"),
    "accept_all": _l("Accept all"),
    # W-09: under Global Privacy Control the button says what it does.
    "accept_gpc": _l("Accept all but marketing"),
    "reject_all": _l("Reject all"),
    "settings": _l("Settings"),
    "change": _l("Change consent"),
    "privacy_link": _l("Privacy notice"),
    "gpc": _l("Your browser sends a Global Privacy Control signal that you do not want "
              "marketing. Marketing is therefore off, unless you turn it on yourself under "
              "“Settings”."),
    # Said to screen readers after a choice (the banner's live region).
    "saved": _l("Your choice has been saved"),
}
# Wanted only where the browser sends Global Privacy Control (W-09): not in widget.js (its
# 5 KB budget, W-12), so a banner that finds GPC on asks /api/v1/config before it shows.
GPC_TEXTS = ("accept_gpc", "gpc")
# The settings layer's, in /api/v1/config (loaded with that layer).
SETTINGS_LAYER = {
    "settings_title": _l("Cookie settings"),
    "save": _l("Save settings"),
    "close": _l("Close"),
    "always_on": _l("Always on"),
    "consent_id": _l("Your consent ID"),
    "consent_date": _l("Chosen on"),
    # Over a held-back iframe of any kind (a video, a map, a post) and for any purpose; drawn by
    # the settings layer's file, which brings this config.
    "placeholder": _l("This content is shown only once you consent to it."),
}


def banner_texts(site: Site, first_layer_only: bool = False) -> dict[str, str]:
    """The banner texts in the current request's language, naming the site's controller and
    the providers of statistics and marketing from the site file (C-03, N-06)."""
    chosen = FIRST_LAYER if first_layer_only else {**FIRST_LAYER, **SETTINGS_LAYER}
    texts = {key: str(value) for key, value in chosen.items()}
    # C-03: who asks (the controller), what for and who receives it, and that it can be
    # undone (C-08).
    body = ngettext("%(controller)s uses cookies that are strictly necessary for the website "
                    "to work. If you consent, we also use cookies for statistics "
                    "(%(analytics)s) and marketing: %(marketing)s shows you ads from us and "
                    "measures how well they work. You can change your choice or withdraw your "
                    "consent at any time under “Change consent”.",
                    "%(controller)s uses cookies that are strictly necessary for the website "
                    "to work. If you consent, we also use cookies for statistics "
                    "(%(analytics)s) and marketing: %(marketing)s show you ads from us and "
                    "measure how well they work. You can change your choice or withdraw your "
                    "consent at any time under “Change consent”.",
                    max(1, len(site.providers_for("marketing"))), controller=site.shown_name,
                    analytics=disclosures.names(site, "analytics"),
                    marketing=disclosures.names(site, "marketing"))
    return {"title": texts.pop("title"), "body": body, **texts}


def description(purpose: purposes.Purpose, site: Site) -> str:
    """A purpose's description naming its providers from the site file."""
    return purposes.describe(purpose, disclosures.names(site, purpose.key),
                             max(1, len(site.providers_for(purpose.key))))


def config(session: Session, site: Site, app_config, lang: str) -> dict:
    """A site's whole config in one language (in the current locale): every text, every purpose
    with its description and cookies, the cookie and Consent Mode settings."""
    version = notices.current(session, site.id)
    return {
        "site": site.id,
        "policy_version": version.version if version else None,
        "valid_policy_versions": notices.valid_versions(session, site.id),
        "language": lang,
        "languages": list(app_config["LANGUAGES"]),
        "purposes": [{"key": p.key, "required": p.required, "name": str(p.name),
                      "description": description(p, site),
                      "cookies": site.cookies_for(p.key, lang)} for p in purposes.DEVICE],
        "texts": banner_texts(site),
        "privacy_url": site.privacy_url(lang) or
        f"{app_config['PUBLIC_URL'].rstrip('/')}/privacy/{lang}{site_query(site)}",
        "cookie": {"name": app_config["COOKIE_NAME"],
                   "max_age_days": int(app_config["MAX_AGE_DAYS"]),
                   "domain": cookie_domain(app_config)},
        "consent_mode": {p.key: list(p.signals) for p in purposes.PURPOSES if p.signals},
    }


def first_layer(full: dict, site: Site, app_config) -> dict:
    """The part of the config the first layer needs without Global Privacy Control, for
    widget.js: its texts, the optional purposes' keys and cookie names (to delete refused
    ones), and the origins of the site's pages (the banner shows on no other)."""
    texts = {key: text for key, text in banner_texts(site, first_layer_only=True)
             .items() if key not in GPC_TEXTS}
    # The cookie's domain only when there is one (the banner reads none as host-only).
    cookie = {key: value for key, value in full["cookie"].items() if value is not None}
    # Not the site's id: the banner never needs it (the server picks the site of its requests
    # by their Origin), and every byte counts against W-12's budget.
    return {**{key: full[key] for key in ("policy_version", "valid_policy_versions",
                                          "language", "privacy_url", "consent_mode")},
            "cookie": cookie,
            # The optional purposes and their cookies' names, deleted when refused (W-05).
            "purposes": [{"key": p["key"], "cookies": [c["name"] for c in p["cookies"]]}
                         for p in full["purposes"] if not p["required"]],
            "texts": texts,
            "origins": list(site.origins)}


def site_query(site: Site) -> str:
    """The query string naming a site in our own links (none for the default site)."""
    return "" if site.id == DEFAULT_SITE else f"?site={site.id}"


def cookie_domain(app_config) -> str | None:
    """CONSENT_COOKIE_DOMAIN as a bare domain ("example.no"), or None."""
    return (app_config.get("COOKIE_DOMAIN") or "").strip().lstrip(".").lower() or None


def consent_cookie(answer: dict, gpc: bool, origin: str | None, app_config) -> str | None:
    """The Set-Cookie header for a recorded choice, when the page that sent it lies under
    CONSENT_COOKIE_DOMAIN and is allowed: the same value the banner writes, on the shared
    domain. A cookie from a server's answer is kept for its whole lifetime by Safari, which
    keeps cookies written by script for 7 days only (W-06)."""
    domain = cookie_domain(app_config)
    if not domain or not origin or origin.rstrip("/") not in app_config["ALLOWED_ORIGINS"]:
        return None
    url = urlsplit(origin)
    host = (url.hostname or "").lower()
    if host != domain and not host.endswith("." + domain):
        return None
    recorded_at: datetime = answer["recorded_at"]
    if recorded_at.tzinfo is None:  # SQLite keeps no zone; the ledger's times are UTC
        recorded_at = recorded_at.replace(tzinfo=UTC)
    value = {"id": answer["consent_id"], "choices": answer["choices"],
             "version": answer["policy_version"], "time": int(recorded_at.timestamp() * 1000),
             "gpc": gpc, "domain": domain}
    # As the banner's encodeURIComponent(JSON.stringify(...)), so that either can read it.
    encoded = quote(json.dumps(value, separators=(",", ":")), safe="!'()*-._~")
    return dump_cookie(app_config["COOKIE_NAME"], encoded,
                       max_age=int(app_config["MAX_AGE_DAYS"]) * 86400,
                       domain=domain, path="/", secure=url.scheme == "https", httponly=False,
                       samesite="Lax")
