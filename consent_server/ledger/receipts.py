"""Consent receipts (L-08): a compact JWS (EdDSA) of the event an answer recorded.

In the spirit of the Kantara Consent Receipt and ISO/IEC TS 27560: who (the subject), when, what
was chosen under which notice, and where the event sits in the chain (seq, hash). Anyone with the
public keys (`GET /.well-known/jwks.json`) checks the signature offline; the server also checks the
receipt against the ledger.
"""
import json

import jwt
from flask import current_app
from sqlalchemy.orm import Session

from . import chain, events, signing
from .signing import SigningKey

TYPE = "consent-receipt+jwt"
# The event's fields a receipt states, two of them under JWT's registered names.
FIELDS = ("subject", "event_id", "seq", "hash", "recorded_at", "action", "choices",
          "policy_version", "language", "text_hash")
RENAMED = {"subject": "sub", "event_id": "jti"}
CLAIMS = tuple(RENAMED.get(name, name) for name in FIELDS)


def claims_of(event) -> dict:
    """The claims about an event: a ledger row, an event dict or a device's answer (which names
    its subject consent_id)."""
    values = {name: event.get(name) for name in FIELDS}
    values["subject"] = values["subject"] or event.get("consent_id")
    values["recorded_at"] = chain.timestamp(event["recorded_at"])
    if isinstance(values["choices"], str):
        values["choices"] = json.loads(values["choices"])
    claims = {RENAMED.get(name, name): value for name, value in values.items()}
    if isinstance(values["seq"], int):  # its leaf in the Merkle tree (L-10): proofs name it
        claims["leaf_index"] = values["seq"] - 1
    return claims


def issue(key: SigningKey, issuer: str, event) -> str:
    """The receipt of a recorded event."""
    claims = {"iss": issuer, **claims_of(event)}
    if hasattr(event["recorded_at"], "timestamp"):
        claims["iat"] = int(event["recorded_at"].timestamp())
    return jwt.encode(claims, key.private, algorithm="EdDSA",
                      headers={"kid": key.kid, "typ": TYPE})


def issue_here(event) -> str:
    """issue() with this app's signing key, its public URL as the issuer."""
    return issue(current_app.extensions["consent_signing_key"], current_app.config["PUBLIC_URL"],
                 event)


def check(session: Session, key: SigningKey, receipt: str) -> dict:
    """Whether a receipt is genuine (signed by key, or by a key that signed before it) and its
    event is in the ledger as signed."""
    try:
        header = jwt.get_unverified_header(receipt)
    except jwt.InvalidTokenError:
        return {"valid": False, "signature_ok": False, "in_ledger": False,
                "reason": "not a compact JWS"}
    public = signing.public_key(session, header.get("kid"), key)
    if public is None or header.get("alg") != "EdDSA":
        return {"valid": False, "signature_ok": False, "in_ledger": False,
                "reason": "not signed with this server's key"}
    try:
        claims = jwt.decode(receipt, public, algorithms=["EdDSA"],
                            options={"verify_iat": False,
                                     "require": [c for c in CLAIMS if c != "text_hash"]})
    except jwt.InvalidTokenError:
        return {"valid": False, "signature_ok": False, "in_ledger": False,
                "reason": "the signature does not match the receipt"}
    event = events.event_by_id(session, str(claims["jti"]))
    answer = {"signature_ok": True, "claims": claims}
    if event is None:
        return {**answer, "valid": False, "in_ledger": False,
                "reason": "signed by us, but its event is not in the ledger"}
    row = event._mapping
    stored = claims_of(row)
    differs = sorted(k for k in CLAIMS if stored[k] != claims.get(k))
    if differs or chain.event_hash(row) != row["hash"]:
        return {**answer, "valid": False, "in_ledger": False,
                "reason": "the ledger's event differs from the receipt: "
                          + ", ".join(differs or ["its hash"])}
    return {**answer, "valid": True, "in_ledger": True, "reason": None}
