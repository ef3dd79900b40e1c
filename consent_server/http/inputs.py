"""Every request's path, query string and form fields checked once, before any view, for text
no database stores (S-04): a 400 problem (the console's own error page there), never a 500."""
from flask import Flask, abort, request

from ..text import MESSAGE, bad_text

FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_bad_text() -> None:
    """400 when the path (its parameters), a query argument or a form field (name or value)
    holds a NUL or a lone surrogate."""
    if bad_text(request.path) or any(bad_text(k) or bad_text(request.args.getlist(k))
                                     for k in request.args):
        abort(400, MESSAGE)
    if request.method != "GET" and request.mimetype in FORMS and any(
            bad_text(k) or bad_text(request.form.getlist(k)) for k in request.form):
        abort(400, MESSAGE)


def init_app(app: Flask) -> None:
    """Run the check before every request (before the blueprints' own hooks)."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_bad_text)
