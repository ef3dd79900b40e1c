"""API keys: created with a role, shown once, stored as a SHA-256 hash, revocable."""
import hashlib
import hmac
import secrets

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .. import database
from ..errors import Forbidden, Unauthorized
from ..models import ApiKey, utcnow
from ..vocabulary import Role

KEYS = ApiKey.__table__
ROLES = tuple(role.value for role in Role)  # plain strings: click shows an Enum by name
PREFIX = "cs_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, name: str, role: str) -> tuple[ApiKey, str]:
    """A new key; returns it and its secret, which is never stored and cannot be shown again."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    prefix = secrets.token_hex(4)
    secret = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with database.writing(session) as conn:
        key_id = conn.execute(insert(KEYS).values(
            name=name, role=role, prefix=prefix, secret_hash=_hash(secret), created_at=utcnow())
            .returning(KEYS.c.id)).scalar_one()
    return _fresh(session, key_id), secret


def _fresh(session: Session, key_id: int) -> ApiKey:
    """A key as the database has it now (not as this session last saw it)."""
    return session.execute(select(ApiKey).where(ApiKey.id == key_id)
                           .execution_options(populate_existing=True)).scalar_one()


def revoke_key(session: Session, ident: str) -> ApiKey:
    """Revoke a key named by its id, its prefix or its name; LookupError when none matches."""
    named = (ApiKey.prefix == ident) | (ApiKey.name == ident)
    if ident.isdigit():  # an id, or a prefix of hex digits that are all decimal ones
        named |= ApiKey.id == int(ident)
    keys = session.execute(select(ApiKey).where(named)).scalars().all()
    if len(keys) != 1:
        raise LookupError(f"{len(keys)} keys match {ident!r}; give the id or prefix")
    with database.writing(session) as conn:
        conn.execute(update(KEYS).where(KEYS.c.id == keys[0].id, KEYS.c.revoked_at.is_(None))
                     .values(revoked_at=utcnow()))
    return _fresh(session, keys[0].id)


def authenticate(session: Session, header: str | None, roles: tuple[str, ...]) -> ApiKey:
    """The key behind an `Authorization: Bearer` header, if it is live and has one of roles."""
    scheme, _, secret = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("An API key is required: Authorization: Bearer <key>.")
    secret = secret.strip()
    prefix = secret[len(PREFIX):].partition("_")[0] if secret.startswith(PREFIX) else ""
    key = session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()
    # Compare the hashes in constant time; hash a secret even when no key matched.
    expected = key.secret_hash if key else _hash(secrets.token_hex(16))
    if not hmac.compare_digest(expected, _hash(secret)) or key is None:
        raise Unauthorized("This API key is not valid.")
    if key.revoked_at is not None:
        raise Unauthorized("This API key has been revoked.")
    if key.role not in roles:
        raise Forbidden(f"This API key's role may not use this endpoint ({', '.join(roles)}).")
    return key


def find_key(session: Session, key_id: int) -> ApiKey | None:
    """The key with this id, as the database has it now, or None."""
    return session.execute(select(ApiKey).where(ApiKey.id == key_id)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def all_keys(session: Session) -> list[ApiKey]:
    """Every key, live and revoked, oldest first (no secrets: only their hashes are stored)."""
    return list(session.execute(select(ApiKey).order_by(ApiKey.id)).scalars())
