"""Typed SQLAlchemy models: the ledger, the current state, the chain head, API keys, people, staff."""
from datetime import date, datetime, timezone

from flask_login import UserMixin
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class ConsentEvent(db.Model):
    """One change of consent: append-only, chained by prev_hash / hash."""

    __tablename__ = "consent_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    v: Mapped[int] = mapped_column(Integer, default=2)  # the hashed form's version (chain.py)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    subject_type: Mapped[str] = mapped_column(String(8))  # device | person
    subject: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(8))
    choices: Mapped[str] = mapped_column(Text)  # canonical JSON
    policy_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    text_hash: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    gpc: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    pii_salt: Mapped[str | None] = mapped_column(String(32))  # not hashed (v2); erasure deletes it
    ip_digest: Mapped[str | None] = mapped_column(String(64))
    ua_digest: Mapped[str | None] = mapped_column(String(64))
    basis: Mapped[str | None] = mapped_column(String(16))  # a person's marketing: consent | customer
    details: Mapped[str | None] = mapped_column(Text)  # canonical JSON, no personal data
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(db.Model):
    """The one row naming the last event: the lock writers queue on, and the chain's anchor."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    # The hash before the last move: PostgreSQL's one-statement append returns it as prev_hash.
    prev_hash: Mapped[str | None] = mapped_column(String(64))


class ConsentState(db.Model):
    """The current consent of one subject: a projection of the ledger, rebuilt by rebuild_state."""

    __tablename__ = "consent_state"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(8))
    choices: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    text_hash: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    gpc: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class ApiKey(db.Model):
    """An API key: only the SHA-256 of its secret is stored."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def utcnow() -> datetime:
    """Now, UTC, to the microsecond (what every database keeps)."""
    return datetime.now(timezone.utc)



class PolicyVersion(db.Model):
    """A published version of the privacy notice; material ones make earlier consents outdated."""

    __tablename__ = "policy_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    material: Mapped[bool] = mapped_column(Boolean)


class PolicyText(db.Model):
    """The exact text of one version in one language, and its SHA-256."""

    __tablename__ = "policy_text"

    version_id: Mapped[int] = mapped_column(ForeignKey("policy_version.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class Person(db.Model):
    """A person subject: the one table that holds an e-mail address (erasure clears it).

    `subject` is the person's id in ledger and state (the keyed hash of the first address) and
    never changes; `address_hash` is the keyed hash of the current address, what look-ups match.
    It stays after erasure, so an erased address stays suppressed.
    """

    __tablename__ = "person"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8))
    consent_id: Mapped[str | None] = mapped_column(String(64))  # the device it signed up from
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A sign-up waiting for its confirmation: the purposes asked for (canonical JSON), the notice
    # shown, when and from where (truncated IP), and the nonce that makes the link single-use.
    pending: Mapped[str | None] = mapped_column(Text)
    pending_policy_version: Mapped[str | None] = mapped_column(String(32))
    signup_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signup_ip: Mapped[str | None] = mapped_column(String(64))
    confirm_nonce: Mapped[str | None] = mapped_column(String(32))
    mail_due: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    mail_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {purpose: time} of every withdrawal (canonical JSON): withdrawn, not "no consent"; and an
    # objection to marketing that no customer relationship overrides (M-07).
    withdrawn: Mapped[str] = mapped_column(Text, default="{}")


class CustomerBasis(db.Model):
    """An existing customer relationship (markedsføringsloven § 15 (2)): the address was
    collected at a sale of a product category, with the opt-out offered."""

    __tablename__ = "customer_basis"

    subject: Mapped[str] = mapped_column(ForeignKey("person.subject"), primary_key=True)
    product_category: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" if none
    sale_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffUser(UserMixin, db.Model):
    """A staff account of the console: an e-mail, a role, a password hash (none until set)."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login: a disabled account's session ends at once
        return self.disabled_at is None


class SignInThrottle(db.Model):
    """Failed sign-ins per account or per IP, both as a keyed hash (an unknown address counts
    like a known one, so the throttle tells nobody which addresses exist)."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # "account:<hmac>", "ip:<hmac>"
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessLogEntry(db.Model):
    """Who in the staff did what, when, on how many rows: never anything of a subject."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(255))
    rows: Mapped[int | None] = mapped_column(Integer)
