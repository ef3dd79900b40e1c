"""Public keys for everyone (S-07, L-08): `GET /.well-known/jwks.json`, every Ed25519 key that
ever signed receipts or checkpoints, with its kid and signing period. No key needed, any origin
may read it, caches may keep it a few minutes."""
from flask import current_app
from marshmallow import Schema, fields

from ..extensions import db
from ..ledger import keyring, signing
from . import Blueprint

blp = Blueprint("wellknown", __name__, url_prefix="/.well-known",
                description="Public keys that sign receipts and checkpoints")
MAX_AGE = 300  # seconds: a rotated-in key is seen within five minutes


class JwkSchema(Schema):
    kty = fields.String()
    crv = fields.String()
    x = fields.String()
    kid = fields.String()
    alg = fields.String()
    use = fields.String()
    signing_from = fields.String(metadata={"description": "when the key began to sign (UTC)"})
    signing_until = fields.String(metadata={
        "description": "when another key took over (absent while it signs)"})


class KeySetSchema(Schema):
    """A JWK set (RFC 7517): every key that ever signed checkpoints and receipts."""

    keys = fields.List(fields.Nested(JwkSchema))


def key_set() -> dict:
    """Every key that ever signed, the current one published first if it is not yet."""
    current = current_app.extensions["consent_signing_key"]
    signing.publish(db.session, current)
    return {"keys": keyring.jwks(db.session)}


@blp.route("/jwks.json")
@blp.response(200, KeySetSchema)
def jwks():
    """The public keys that sign receipts and checkpoints, each with its kid and signing period
    (a JWK set; no key needed)."""
    return key_set()


@blp.after_request
def _public(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response
