"""The staff console at /console: signed-in staff accounts, pages per role (marketing, auditor,
admin), server-rendered, CSRF on every form, no script and no inline style."""
from flask import Flask
from flask_babel import lazy_gettext as _l

from ..extensions import csrf, login_manager
from . import audit, auth, marketing, operator, webhooks  # noqa: F401 (their routes join bp)
from .base import bp


def init_app(app: Flask) -> None:
    """Flask-Login and CSRF for the console, and its blueprint."""
    login_manager.init_app(app)
    login_manager.login_view = "console.sign_in"
    login_manager.login_message = _l("Sign in to open this page.")
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    app.register_blueprint(bp)
