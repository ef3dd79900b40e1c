"""Sign in, sign out, set a password from a one-time link, and the console's start page."""
import time
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db
from ..http.logs import CONTROL
from ..http.network import client_network
from ..models import utcnow
from ..staff import access_log, users
from .base import SIGNED_IN_AT, bp
from .forms import ActionForm, SetPasswordForm, SignInForm


@bp.get("/")
@login_required
def home():
    """The start page: what this account's role may open."""
    return render_template("console/home.html", form=ActionForm())


def _safe_next(target: str | None) -> str:
    """Only a path inside the console (no other host, no scheme, no control character):
    else the start page."""
    if target and CONTROL.search(target):  # a CR/LF would split the Location header
        return url_for("console.home")
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") \
            or target.startswith("//"):
        return url_for("console.home")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """The sign-in form; the answer to a failure never says whether the address exists."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        now = utcnow()
        try:
            user = users.authenticate(db.session, current_app.secret_key, form.email.data,
                                      form.password.data, client_network(), now)
        except users.Throttled as refused:
            flash(_("Too many failed sign-ins. Wait %(seconds)s seconds and try again.",
                    seconds=refused.wait), "error")
            status = 429
        except users.WrongCredentials:
            known = users.find(db.session, form.email.data)
            access_log.record(db.session, known.id if known else None,
                              access_log.SIGN_IN_FAILED, now)
            flash(_("The address or the password is wrong."), "error")
            status = 401
        else:
            session.clear()  # a fresh session (and CSRF token) for the signed-in account
            session.permanent = True
            session[SIGNED_IN_AT] = int(time.time())
            login_user(users.start_session(db.session, user))
            access_log.record(db.session, user.id, access_log.SIGN_IN, now)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("console/sign_in.html", form=form), status


@bp.post("/sign-out")
@login_required
def sign_out():
    """End the session."""
    access_log.record(db.session, current_user.id, access_log.SIGN_OUT, utcnow())
    users.end_sessions(db.session, current_user)  # a copy of the cookie opens nothing after
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("console.sign_in"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """Choose a password from a one-time link (made by create-user or an admin)."""
    user = users.user_for_token(db.session, current_app.secret_key, token)
    if user is None:
        abort(404)
    form = SetPasswordForm()
    if form.validate_on_submit():
        users.set_password(db.session, user, form.password.data)
        access_log.record(db.session, user.id, access_log.PASSWORD_SET, utcnow())
        flash(_("Your password is set. Sign in with it."), "info")
        return redirect(url_for("console.sign_in"))
    status = 422 if request.method == "POST" else 200
    return render_template("console/set_password.html", form=form, email=user.email), status
