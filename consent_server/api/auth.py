"""`Authorization: Bearer` API keys for the marketing and audit blueprints."""
from functools import wraps

from flask import g, request

from ..extensions import db
from ..staff import keys
from ..vocabulary import Role


def require_role(*roles: str):
    """Let a view run only for a live API key of one of roles (admin always may): 401 / 403."""
    allowed = tuple(dict.fromkeys((*roles, Role.ADMIN)))

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.api_key = keys.authenticate(db.session, request.headers.get("Authorization"),
                                          allowed)
            return view(*args, **kwargs)

        return wrapper

    return decorate
