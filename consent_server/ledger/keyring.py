"""Every public key that ever signed checkpoints and receipts, with the period it signed (S-07):
published at /.well-known/jwks.json, and what the server checks old proofs against once a
retired key's private half is gone. A key is recorded the first time it is seen (init-db, a
checkpoint, the key set asked for, a rotation); recording one ends the period of the others."""
import base64
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import database
from ..models import SigningKeyRecord
from . import chain

KEYS = SigningKeyRecord.__table__


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def record(session: Session, kid: str, public_bytes: bytes, now: datetime) -> bool:
    """Record a key as the signer from now on, unless it is recorded already (then nothing
    changes); True when it was new. The open period of every other key ends now."""
    if session.execute(select(KEYS.c.kid).where(KEYS.c.kid == kid)).first() is not None:
        return False
    try:
        with database.writing(session) as conn:
            if conn.execute(select(KEYS.c.kid).where(KEYS.c.kid == kid)).first() is not None:
                return False
            conn.execute(update(KEYS).where(KEYS.c.signing_until.is_(None))
                         .values(signing_until=now))
            conn.execute(insert(KEYS).values(kid=kid, public_key=_b64url(public_bytes),
                                             signing_from=now))
    except IntegrityError:  # another process recorded it at the same moment
        return False
    return True


def jwks(session: Session) -> list[dict]:
    """Every recorded key as a JWK (RFC 8037) with its signing period (`signing_from`, and
    `signing_until` once another key took over), oldest first."""
    rows = session.execute(select(SigningKeyRecord).order_by(SigningKeyRecord.signing_from,
                                                             SigningKeyRecord.kid)).scalars()
    keys = []
    for row in rows:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": row.public_key, "kid": row.kid,
               "alg": "EdDSA", "use": "sig", "signing_from": chain.timestamp(row.signing_from)}
        if row.signing_until is not None:
            jwk["signing_until"] = chain.timestamp(row.signing_until)
        keys.append(jwk)
    return keys


def public_key(session: Session, kid: str) -> Ed25519PublicKey | None:
    """The recorded public key with this kid, or None."""
    found = session.execute(select(KEYS.c.public_key).where(KEYS.c.kid == kid)
                            ).scalar_one_or_none()
    if found is None:
        return None
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(found + "=" * (-len(found)
                                                                                     % 4)))
