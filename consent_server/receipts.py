"""Consent receipts (L-08): a compact JWS (EdDSA) of the event an answer recorded.

In the spirit of the Kantara Consent Receipt and ISO/IEC TS 27560: who (the subject), when, what
was chosen under which notice, and where the event sits in the chain (seq, hash). Anyone with the
public key (`GET /api/v1/audit/keys`) checks the signature offline; the server also checks the
receipt against the ledger.
"""
import json

import jwt
from flask import current_app
from sqlalchemy.orm import Session

from . import chain, ledger
from .signing import SigningKey

TYPE = "consent-receipt+jwt"
CLAIMS = ("sub", "jti", "seq", "hash", "recorded_at", "action", "choices", "policy_version",
          "language", "text_hash")


def issue(key: SigningKey, issuer: str, answer: dict) -> str:
    """The receipt of a recorded event (an answer of consents.record, or any event dict)."""
    claims = {
        "iss": issuer, "sub": answer.get("consent_id") or answer["subject"],
        "jti": answer["event_id"], "seq": answer["seq"], "hash": answer["hash"],
        "recorded_at": chain.timestamp(answer["recorded_at"]), "action": answer["action"],
        "choices": answer["choices"] if isinstance(answer["choices"], dict)
        else json.loads(answer["choices"]),
        "policy_version": answer["policy_version"], "language": answer["language"],
        "text_hash": answer.get("text_hash"),
        "iat": int(answer["recorded_at"].timestamp()) if hasattr(answer["recorded_at"], "timestamp")
        else None,
    }
    claims = {k: v for k, v in claims.items() if v is not None or k == "text_hash"}
    return jwt.encode(claims, key.private, algorithm="EdDSA",
                      headers={"kid": key.kid, "typ": TYPE})


def issue_here(event: dict) -> str:
    """issue() with this app's signing key, its public URL as the issuer."""
    return issue(current_app.extensions["consent_signing_key"], current_app.config["PUBLIC_URL"],
                 event)


def check(session: Session, key: SigningKey, receipt: str) -> dict:
    """Whether a receipt is genuine (our signature) and its event is in the ledger as signed."""
    try:
        header = jwt.get_unverified_header(receipt)
    except jwt.InvalidTokenError:
        return {"valid": False, "signature_ok": False, "in_ledger": False,
                "reason": "not a compact JWS"}
    if header.get("kid") != key.kid or header.get("alg") != "EdDSA":
        return {"valid": False, "signature_ok": False, "in_ledger": False,
                "reason": "not signed with this server's key"}
    try:
        claims = jwt.decode(receipt, key.public, algorithms=["EdDSA"],
                            options={"verify_iat": False,
                                     "require": [c for c in CLAIMS if c != "text_hash"]})
    except jwt.InvalidTokenError:
        return {"valid": False, "signature_ok": False, "in_ledger": False,
                "reason": "the signature does not match the receipt"}
    event = ledger.event_by_id(session, str(claims["jti"]))
    session.rollback()
    answer = {"signature_ok": True, "claims": claims}
    if event is None:
        return {**answer, "valid": False, "in_ledger": False,
                "reason": "signed by us, but its event is not in the ledger"}
    row = event._mapping
    stored = {"sub": row["subject"], "jti": row["event_id"], "seq": row["seq"],
              "hash": row["hash"], "recorded_at": chain.timestamp(row["recorded_at"]),
              "action": row["action"], "choices": json.loads(row["choices"]),
              "policy_version": row["policy_version"], "language": row["language"],
              "text_hash": row["text_hash"]}
    differs = sorted(k for k in CLAIMS if stored[k] != claims.get(k))
    if differs or chain.event_hash(row) != row["hash"]:
        return {**answer, "valid": False, "in_ledger": False,
                "reason": "the ledger's event differs from the receipt: "
                          + ", ".join(differs or ["its hash"])}
    return {**answer, "valid": True, "in_ledger": True, "reason": None}
