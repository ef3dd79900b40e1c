"""What the banner is configured with: /api/v1/config, and its first layer inside widget.js."""
from sqlalchemy.orm import Session

from . import policy, purposes, texts
from .site import Site


def config(session: Session, site: Site, app_config, lang: str) -> dict:
    """The whole config in one language (in the current locale): every text, every purpose
    with its description and cookies, the cookie and Consent Mode settings."""
    version = policy.current(session)
    return {
        "policy_version": version.version if version else None,
        "valid_policy_versions": policy.valid_versions(session),
        "language": lang,
        "languages": list(app_config["LANGUAGES"]),
        "purposes": [{"key": p.key, "required": p.required, "name": str(p.name),
                      "description": str(p.description),
                      "cookies": site.cookies_for(p.key, lang)} for p in purposes.DEVICE],
        "texts": texts.banner_texts(site.controller),
        "privacy_url": site.privacy_url(lang) or
        f"{app_config['PUBLIC_URL'].rstrip('/')}/privacy/{lang}",
        "cookie": {"name": app_config["COOKIE_NAME"],
                   "max_age_days": int(app_config["MAX_AGE_DAYS"]),
                   "domain": app_config["COOKIE_DOMAIN"] or None},
        "consent_mode": {p.key: list(p.signals) for p in purposes.PURPOSES if p.signals},
    }


def first_layer(full: dict, site: Site, app_config) -> dict:
    """The part of the config the first layer needs, for widget.js: its texts, the purposes'
    keys and cookie names (to delete refused ones), and the sites allowed to use it."""
    return {**{key: full[key] for key in ("policy_version", "valid_policy_versions", "language",
                                          "privacy_url", "cookie", "consent_mode")},
            # The cookie names of optional purposes, deleted when they are refused (W-05).
            "purposes": [{"key": p["key"], "required": p["required"],
                          "cookies": [] if p["required"] else [c["name"] for c in p["cookies"]]}
                         for p in full["purposes"]],
            "texts": texts.banner_texts(site.controller, first_layer_only=True),
            "origins": list(app_config["ALLOWED_ORIGINS"])}
