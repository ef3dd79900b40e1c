"""The console's blueprint and what every page of it shares: sign-in and roles, CSRF, headers,
language, error pages."""
import time
from functools import wraps

from flask import Blueprint, abort, current_app, render_template, request, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from ..extensions import csrf, db, login_manager
from ..http.i18n import NAMES, normalise, others
from ..models import StaffUser
from ..staff import users
from ..vocabulary import Role

SIGNED_IN_AT = "signed_in_at"  # the session's start (epoch seconds): its absolute lifetime
bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

# REQ S-05: everything from this server, nothing inline, no framing.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
ERRORS = {400: _l("The request could not be understood."),
          403: _l("Your account's role may not open this page."),
          404: _l("There is no such page."),
          405: _l("This page does not take that method.")}


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """The account of this request's session: its key must be the account's now (sign-out
    clears it) and the session younger than CONSOLE_MAX_HOURS, however active it was."""
    started = session.get(SIGNED_IN_AT)
    limit = int(current_app.config["CONSOLE_MAX_HOURS"]) * 3600
    if not isinstance(started, int) or not 0 <= time.time() - started < limit:
        return None
    return users.user_for_session(db.session, user_id)


def role_required(*roles: str):
    """Signed in (else a redirect to sign-in) with one of roles, or admin (else 403)."""
    allowed = {*roles, Role.ADMIN}

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


@bp.before_request
def protect():
    """Every POST carries the form's CSRF token (Flask-WTF), or is refused with 400."""
    if request.method == "POST":
        csrf.protect()


@bp.after_request
def headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Vary"] = "Cookie, Accept-Language"
    return response


@bp.url_defaults
def keep_language(endpoint, values):
    """A language chosen with ?lang= stays on every console link and form."""
    if endpoint == "console.static":
        return
    if "lang" not in values and (lang := normalise(request.args.get("lang"))):
        values["lang"] = lang


@bp.context_processor
def page_language():
    lang = str(get_locale())
    return {"lang": lang, "other_languages": others(lang), "language_names": NAMES}


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    return render_template("console/error.html", status=400,
                           message=_l("The form had expired or was not sent from this console. "
                                      "Go back, reload the page and try again.")), 400


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(405)
def http_error(error):
    return render_template("console/error.html", status=error.code,
                           message=ERRORS.get(error.code, error.name)), error.code
