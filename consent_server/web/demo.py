"""GET /demo: a small shop page that embeds the banner as a customer would.

It holds back an analytics script (external and inline) and a marketing script and iframe with
`data-consent`, and shows in a panel what has run and what Google Consent Mode received. The page
is served with a strict Content-Security-Policy (no inline script or style without its nonce), as
a customer's site may be, to show that the banner works under one.
"""
import secrets

from flask import Blueprint, render_template, request, url_for
from flask_babel import get_locale

from ..http import i18n
from .signup import form_context

bp = Blueprint("demo", __name__, template_folder="templates")

JS = "application/javascript; charset=utf-8"
# Each held-back demo script tells the panel it ran and, like the real ones, sets its cookie.
SCRIPTS = {
    "analytics": "document.cookie='_ga=GA1.1.demo; Max-Age=3600; Path=/; SameSite=Lax';"
                 "window.demoRan&&demoRan('analytics-external');",
    "marketing": "document.cookie='_fbp=fb.1.demo; Max-Age=3600; Path=/; SameSite=Lax';"
                 "window.demoRan&&demoRan('marketing-external');",
}

BUTTONS = ("small", "scroll", "false")


def _csp(nonce: str, frame_ancestors: str = "'none'") -> str:
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
            "img-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'none'; "
            f"base-uri 'none'; frame-ancestors {frame_ancestors}")


@bp.get("/demo")
def page():
    """The demo shop: the banner, held-back scripts and a panel of what has run."""
    nonce = secrets.token_urlsafe(16)
    lang = str(get_locale())
    # ?button=small|scroll|false shows the tag's data-button choices for the floating button.
    button = request.args.get("button") if request.args.get("button") in BUTTONS else None
    html = render_template("demo.html", nonce=nonce, lang=lang, button=button,
                           others=i18n.others(lang),
                           privacy_url=url_for("notice.in_language", lang=lang),
                           **form_context(lang))
    return html, 200, {"Content-Security-Policy": _csp(nonce), "Cache-Control": "no-store",
                       "Content-Language": lang, "X-Content-Type-Options": "nosniff",
                       "Referrer-Policy": "strict-origin-when-cross-origin"}


@bp.get("/demo/<any(analytics, marketing):name>.js")
def held_back_script(name: str):
    """A stand-in for an analytics or marketing tag (served only to run after consent)."""
    return SCRIPTS[name], 200, {"Content-Type": JS, "Cache-Control": "no-store"}


@bp.get("/demo/panel.js")
def panel_script():
    """The demo's own script: lists what ran and every Consent Mode command in dataLayer."""
    return render_template("demo_panel.js"), 200, {"Content-Type": JS}


@bp.get("/demo/embed")
def embed():
    """A stand-in for a marketing embed (a video player) shown only after consent."""
    nonce = secrets.token_urlsafe(16)
    return render_template("demo_embed.html", nonce=nonce, lang=str(get_locale())), 200, {
        "Content-Security-Policy": _csp(nonce, "'self'")}
