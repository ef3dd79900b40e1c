"""Signed links for people: confirm, access (expiring) and unsubscribe (never expiring).

itsdangerous under the secret key (and Flask's SECRET_KEY_FALLBACKS while one is rotated out),
each kind with a salt of its own, so that no token of one kind is accepted as another.
"""
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

CONFIRM, ACCESS, UNSUBSCRIBE = "consent.confirm", "consent.access", "consent.unsubscribe"


class Expired(Exception):
    """A genuine token past its age."""


class Forged(Exception):
    """Not a token we signed (or of another kind)."""


def _keys() -> list[str]:
    cfg = current_app.config
    return [*(cfg.get("SECRET_KEY_FALLBACKS") or ()), cfg["SECRET_KEY"]]  # the newest signs: last


def sign(kind: str, payload: dict) -> str:
    """A URL-safe token of one kind carrying payload."""
    if kind == UNSUBSCRIBE:
        return URLSafeSerializer(_keys(), salt=kind).dumps(payload)
    return URLSafeTimedSerializer(_keys(), salt=kind).dumps(payload)


def load(kind: str, token: str) -> dict:
    """The payload of a token of this kind; Expired or Forged when it does not hold."""
    try:
        if kind == UNSUBSCRIBE:
            payload = URLSafeSerializer(_keys(), salt=kind).loads(token)
        else:
            hours = float(current_app.config["CONFIRM_MAX_AGE_HOURS"])
            payload = URLSafeTimedSerializer(_keys(), salt=kind).loads(token,
                                                                       max_age=hours * 3600)
    except SignatureExpired:
        raise Expired() from None
    except BadSignature:
        raise Forged() from None
    if not isinstance(payload, dict):
        raise Forged()
    return payload
