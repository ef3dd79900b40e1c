"""The server's Ed25519 signing key, and signed checkpoints of the ledger's head (L-07).

A checkpoint is `{"seq", "hash", "time", "kid", "signature"}`: the signature (base64url, no
padding) is Ed25519 over the canonical JSON of the other four. Whoever keeps one can later prove
that the ledger still extends it: the event at that seq must still have that hash, which no
rewrite of history can keep while changing anything before it.
"""
import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import EVENTS, HEAD, THE_HEAD, utcnow
from . import chain, keyring

SIGNED = ("seq", "hash", "time", "kid")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate() -> str:
    """A new private key in the form CONSENT_SIGNING_KEY takes: base64url of the 32-byte seed."""
    return b64url(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption()))


def parse(text: str) -> Ed25519PrivateKey:
    """A private key from PEM (PKCS #8) or base64url of its 32-byte seed; ValueError if neither."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("CONSENT_SIGNING_KEY is not an Ed25519 key")
        return key
    try:
        seed = unb64url(text)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ValueError("CONSENT_SIGNING_KEY must be 32 bytes (base64url) or a PEM Ed25519 key")
    return Ed25519PrivateKey.from_private_bytes(seed)


@dataclass(frozen=True)
class SigningKey:
    """The private key and what others need to check its signatures."""

    private: Ed25519PrivateKey

    # Cached: every consent answer's receipt names the kid (derived anew: 3 % of a POST).
    @cached_property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @cached_property
    def public_bytes(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @cached_property
    def kid(self) -> str:
        """The key's id: the first 16 hex digits of the SHA-256 of its raw public key."""
        return hashlib.sha256(self.public_bytes).hexdigest()[:16]

    def jwk(self) -> dict:
        """The public key as a JWK (RFC 8037)."""
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public_bytes), "kid": self.kid,
                "alg": "EdDSA", "use": "sig"}

    def sign(self, message: bytes) -> str:
        return b64url(self.private.sign(message))

    def check(self, message: bytes, signature: str) -> bool:
        return check_signature(self.public, message, signature)


_EPHEMERAL: list[str] = []


def _process_key() -> str:
    """One key per process for debug and tests (every app built in it signs alike)."""
    if not _EPHEMERAL:
        _EPHEMERAL.append(generate())
    return _EPHEMERAL[0]


def init_app(app: Flask) -> None:
    """Load the signing key (CONSENT_SIGNING_KEY, or instance/signing_key as server_keys read it);
    in debug or testing without one, a key of the process's own (signatures then die with it).
    Without one otherwise the app is a command line's that refuses the commands needing it."""
    text = app.config.get("SIGNING_KEY")
    if not text and (app.debug or app.testing):
        text = _process_key()
    if text:
        app.extensions["consent_signing_key"] = SigningKey(parse(text))


def publish(session: Session, key: SigningKey) -> None:
    """Record the key among those that ever signed (keyring), if it is not there yet."""
    keyring.record(session, key.kid, key.public_bytes, utcnow())


def public_key(session: Session, kid, current: SigningKey | None) -> Ed25519PublicKey | None:
    """The public key that checks signatures of this kid: the current key's, or a key that
    signed before (its private half may be long deleted); None for a key never published."""
    if current is not None and kid == current.kid:
        return current.public
    return keyring.public_key(session, kid) if isinstance(kid, str) else None


def check_signature(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """Whether signature (base64url) is public's Ed25519 signature of message."""
    try:
        public.verify(unb64url(signature), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def checkpoint(session: Session, key: SigningKey) -> dict:
    """A signed statement of the head: its seq and hash, now (the key is published first)."""
    publish(session, key)
    head = session.execute(select(HEAD.c.seq, HEAD.c.hash).where(THE_HEAD)).one()
    statement = {"seq": head.seq, "hash": head.hash, "time": chain.timestamp(utcnow()),
                 "kid": key.kid}
    return {**statement, "signature": key.sign(chain.canonical(statement))}


def check_checkpoint(session: Session, key: SigningKey, given) -> str | None:
    """Why the ledger does not extend a checkpoint (or it is not ours), or None when it does."""
    if not isinstance(given, dict) or not all(k in given for k in (*SIGNED, "signature")):
        return "not a checkpoint: it needs seq, hash, time, kid and signature"
    public = public_key(session, given["kid"], key)
    if public is None:
        return f"signed by another key ({given['kid']}), never one of this server's"
    statement = {k: given[k] for k in SIGNED}
    if not isinstance(given["signature"], str) or not check_signature(
            public, chain.canonical(statement), given["signature"]):
        return "the checkpoint's signature is not valid"
    if given["seq"] == 0:
        return None if given["hash"] == chain.GENESIS else "the checkpoint's hash is not genesis"
    found = session.execute(select(EVENTS.c.hash).where(EVENTS.c.seq == given["seq"])
                            ).scalar_one_or_none()
    if found is None:
        return f"the ledger has no event {given['seq']}: it does not extend the checkpoint"
    if found != given["hash"]:
        return f"event {given['seq']} no longer has the checkpoint's hash: history was rewritten"
    return None


def load_checkpoint(text: str):
    """A checkpoint file's JSON; ValueError when it is not JSON."""
    return json.loads(text)
