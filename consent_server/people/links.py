"""Signed links for people: confirm, access (expiring) and unsubscribe (never expiring); their
URLs, and the person a link stands for.

itsdangerous under the secret key (and Flask's SECRET_KEY_FALLBACKS while one is rotated out),
each kind with a salt of its own, so that no token of one kind is accepted as another.
"""
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from ..errors import Gone, NotFound
from .persons import by_subject

CONFIRM, ACCESS, UNSUBSCRIBE = "consent.confirm", "consent.access", "consent.unsubscribe"
NEW_ADDRESS = "consent.new-address"  # confirms a person's new address (single use, expiring)


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


class LinkInvalid(NotFound):
    """Not a link we made, or its person is gone."""


class LinkExpired(Gone):
    """A genuine link past its age."""


class LinkUsed(Gone):
    """A single-use link used already."""


def public_url(path: str) -> str:
    """An absolute URL on this server (CONSENT_PUBLIC_URL)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def confirm_url(subject: str, nonce: str) -> str:
    """The link of a sign-up's confirmation mail (single use: the nonce is the person's)."""
    return public_url(f"/subscriptions/confirm/{sign(CONFIRM, {'s': subject, 'n': nonce})}")


def unsubscribe_url(subject: str, purpose: str) -> str:
    """The person's unsubscribe link for one purpose (signed, never expiring)."""
    return public_url(f"/unsubscribe/{sign(UNSUBSCRIBE, {'s': subject, 'p': purpose})}")


def access_url(subject: str) -> str:
    """The link to the person's own page (expiring)."""
    return public_url(f"/subscriptions/me/{sign(ACCESS, {'s': subject})}")


def new_address_url(subject: str, nonce: str) -> str:
    """The link mailed to a person's new address, to confirm it."""
    return public_url(f"/subscriptions/address/{sign(NEW_ADDRESS, {'s': subject, 'n': nonce})}")


def person_of(session, kind: str, token: str, expired: str = "This link has expired. "
              "Please ask for a new one."):
    """The person row a link stands for, and the link's payload; LinkExpired or LinkInvalid."""
    try:
        payload = load(kind, token)
    except Expired:
        raise LinkExpired(expired) from None
    except Forged:
        raise LinkInvalid("This link is not valid.") from None
    person = by_subject(session, str(payload.get("s")))
    if person is None:
        raise LinkInvalid("This link is not valid.")
    return person, payload
