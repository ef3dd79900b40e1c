"""Typed SQLAlchemy models: the ledger, the current state, the chain head, API keys, people and
staff."""
from datetime import UTC, date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .vocabulary import DEFAULT_SITE


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self):
        return datetime

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ChoiceColumns:
    """What a subject chose, under which notice, from where: the columns an event and its
    subject's state share, declared once (the state is the projection of its last event).

    sort_order keeps each table's columns in the order of its migrations, which is the order
    of the auditors' exports.
    """

    subject_type: Mapped[str] = mapped_column(String(8), sort_order=4)  # vocabulary.SubjectType
    action: Mapped[str] = mapped_column(String(8), sort_order=6)  # vocabulary.Action
    choices: Mapped[str] = mapped_column(Text, sort_order=7)  # canonical JSON
    policy_version: Mapped[str] = mapped_column(String(32), sort_order=8)
    language: Mapped[str] = mapped_column(String(8), sort_order=9)
    text_hash: Mapped[str | None] = mapped_column(String(64), sort_order=10)
    source: Mapped[str] = mapped_column(String(16), sort_order=11)  # vocabulary.Source
    gpc: Mapped[bool] = mapped_column(Boolean, default=False, sort_order=12)
    ip: Mapped[str | None] = mapped_column(String(64), sort_order=13)  # truncated (L-04)
    user_agent: Mapped[str | None] = mapped_column(String(512), sort_order=14)
    # The controller's site it was recorded for (consent/sites.py; hashed from ledger v3 on).
    site: Mapped[str] = mapped_column(String(32), default=DEFAULT_SITE,
                                      server_default=DEFAULT_SITE, sort_order=30)


class ConsentEvent(ChoiceColumns, db.Model):
    """One change of consent: append-only, chained by prev_hash / hash."""

    __tablename__ = "consent_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False,
                                     sort_order=0)
    v: Mapped[int] = mapped_column(Integer, default=2, sort_order=1)  # chain.py's form version
    event_id: Mapped[str] = mapped_column(String(36), unique=True, sort_order=2)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, sort_order=3)
    subject: Mapped[str] = mapped_column(String(64), index=True, sort_order=5)
    # Not hashed (v2): erasure deletes the salt, so the digests identify nobody.
    pii_salt: Mapped[str | None] = mapped_column(String(32), sort_order=15)
    ip_digest: Mapped[str | None] = mapped_column(String(64), sort_order=16)
    ua_digest: Mapped[str | None] = mapped_column(String(64), sort_order=17)
    basis: Mapped[str | None] = mapped_column(String(16), sort_order=18)  # vocabulary.Basis
    details: Mapped[str | None] = mapped_column(Text, sort_order=19)  # canonical JSON, no PII
    prev_hash: Mapped[str] = mapped_column(String(64), sort_order=20)
    hash: Mapped[str] = mapped_column(String(64), sort_order=21)


class ConsentState(ChoiceColumns, db.Model):
    """The current consent of one subject: a projection of the ledger (its last event's
    ChoiceColumns, place and time, and the first event's time), rebuilt by rebuild_state."""

    __tablename__ = "consent_state"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True, sort_order=0)
    subject_type: Mapped[str] = mapped_column(String(8), sort_order=1)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, sort_order=15)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, sort_order=16)
    event_id: Mapped[str] = mapped_column(String(36), sort_order=17)
    seq: Mapped[int] = mapped_column(Integer, sort_order=18)
    hash: Mapped[str] = mapped_column(String(64), sort_order=19)


class ChainHead(db.Model):
    """The one row naming the last event: the lock writers queue on, and the chain's anchor."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    # The hash before the last move: PostgreSQL's one-statement append returns it as prev_hash.
    prev_hash: Mapped[str | None] = mapped_column(String(64))


class TreeNode(db.Model):
    """A complete subtree of the Merkle tree over the events (ledger/tree.py): 2**level leaves
    from leaf index << level. Level 0 holds the leaves; a C2SP tile is a run of one level."""

    __tablename__ = "tree_node"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeCosignature(db.Model):
    """A witness's newest cosignature of a checkpoint of the log (ledger/cosign.py)."""

    __tablename__ = "tree_cosignature"

    witness: Mapped[str] = mapped_column(String(8), primary_key=True)  # its key id, hex
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    line: Mapped[str] = mapped_column(Text)
    time: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


EVENTS = ConsentEvent.__table__
STATE = ConsentState.__table__
HEAD = ChainHead.__table__
NODES = TreeNode.__table__
COSIGNATURES = TreeCosignature.__table__
# The one head row, as a literal: statements compiled once then take only named parameters.
THE_HEAD = HEAD.c.id == literal_column("1")
# The state's copy of its subject's last event: every column both tables have, but the key.
STATE_FIELDS = tuple(c.name for c in STATE.columns if c.name in EVENTS.c and c.name != "subject")


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
    return datetime.now(UTC)



class PolicyVersion(db.Model):
    """A published version of the privacy notice; material ones make earlier consents outdated."""

    __tablename__ = "policy_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    # The site whose notice it is: each site has its own declaration, so its own versions.
    site: Mapped[str] = mapped_column(String(32), default=DEFAULT_SITE,
                                      server_default=DEFAULT_SITE)
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
    # The last access link mailed: at most one per CONSENT_CONFIRM_RESEND_MINUTES (no flood).
    access_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {purpose: time} of every withdrawal (canonical JSON): withdrawn, not "no consent"; and an
    # objection to marketing that no customer relationship overrides (M-07).
    withdrawn: Mapped[str] = mapped_column(Text, default="{}")
    # Since when the person has restricted processing (Art. 18, R-04): kept, used for nothing.
    restricted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A new address the person asked for (Art. 16, R-04), until confirmed by the link mailed to
    # it; the nonce makes that link single-use. Never in a URL.
    new_email: Mapped[str | None] = mapped_column(String(320))
    new_email_nonce: Mapped[str | None] = mapped_column(String(32))


class CustomerBasis(db.Model):
    """An existing customer relationship (markedsføringsloven § 15 third paragraph): the
    address was collected at a sale of a product category, with the opt-out offered."""

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
    # Named by every console session of the account; sign-out, a new password or disabling
    # clears it, which ends them all server-side (a captured cookie opens nothing after).
    session_key: Mapped[str | None] = mapped_column(String(64))

    @property
    def is_active(self) -> bool:  # Flask-Login: a disabled account's session ends at once
        return self.disabled_at is None

    def get_id(self) -> str:  # Flask-Login: what the session cookie names (base.load_user)
        return f"{self.id}.{self.session_key}"


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
    actor: Mapped[str | None] = mapped_column(String(32))  # who, without an account: "cli"
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(255))
    rows: Mapped[int | None] = mapped_column(Integer)


class SigningKeyRecord(db.Model):
    """A public key that signed checkpoints and receipts, and the period it signed: kept for
    ever, so what a retired key signed still verifies once its private key is gone (S-07)."""

    __tablename__ = "signing_key"

    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64url of the raw 32 bytes
    signing_from: Mapped[datetime] = mapped_column(UTCDateTime)
    signing_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookEndpoint(db.Model):
    """A marketing tool's endpoint an admin registered (L-09): its URL, the secret deliveries
    are signed with (Standard Webhooks), the event types it wants."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(64))  # whsec_ + base64 of 24 random bytes
    events: Mapped[str] = mapped_column(String(255))  # event types, space-separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(db.Model):
    """The outbox: one message for one endpoint, written in the transaction of its event and
    sent (at least once, the same `msg_id` each time) by `deliver-webhooks`."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    msg_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(255))
