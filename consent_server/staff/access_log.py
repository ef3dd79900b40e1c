"""The staff access log: who signed in, who exported what, when, how many rows.

Never anything of a subject (S-06): no address, consent id or search term, only the kind of
action, its filters (purpose, format, dates) and a row count.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .. import database
from ..models import AccessLogEntry, StaffUser

SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_OUT = "sign_out"
EXPORT = "export"
CHECKPOINT = "checkpoint"
SUBJECT_LOOKUP = "subject_lookup"
KEY_CREATED, KEY_REVOKED = "key_created", "key_revoked"
USER_CREATED, USER_DISABLED = "user_created", "user_disabled"
USER_ENABLED, ROLE_CHANGED = "user_enabled", "role_changed"
PASSWORD_RESET, PASSWORD_SET = "password_reset", "password_set"
SIGNING_KEY_ROTATED = "signing_key_rotated"
CLI = "cli"  # the actor of a change made on the command line (`flask consent ...`)
NOTICE_PUBLISHED = "notice_published"
WEBHOOK_ADDED, WEBHOOK_DISABLED = "webhook_added", "webhook_disabled"
CHECK, LOOKUP, CUSTOMERS = "check", "lookup", "customers"


@dataclass
class Entry:
    at: datetime
    email: str | None  # the account's address, or the actor without one ("cli")
    action: str
    detail: str | None
    rows: int | None


def record(session: Session, user_id: int | None, action: str, now: datetime,
           detail: str | None = None, rows: int | None = None, actor: str | None = None) -> None:
    """Append one entry, committed at once in a unit of work of its own: whatever the caller
    does next, the entry stays. The actor is a staff account (user_id) or, without one, a
    name such as CLI."""
    with database.writing(session) as conn:
        conn.execute(insert(AccessLogEntry.__table__).values(
            at=now, user_id=user_id, actor=actor, action=action,
            detail=(detail or None) and detail[:255], rows=rows))


def latest(session: Session, limit: int = 500) -> list[Entry]:
    """The newest entries first, each with the staff address (None for an unknown one)."""
    rows = session.execute(
        select(AccessLogEntry, StaffUser.email)
        .outerjoin(StaffUser, AccessLogEntry.user_id == StaffUser.id)
        .order_by(AccessLogEntry.id.desc()).limit(limit))
    return [Entry(e.at, email or e.actor, e.action, e.detail, e.rows) for e, email in rows]


def last(session: Session, action: str) -> Entry | None:
    """The newest entry of one kind, or None."""
    found = session.execute(
        select(AccessLogEntry, StaffUser.email)
        .outerjoin(StaffUser, AccessLogEntry.user_id == StaffUser.id)
        .where(AccessLogEntry.action == action)
        .order_by(AccessLogEntry.id.desc()).limit(1)).first()
    if not found:
        return None
    entry, email = found
    return Entry(entry.at, email or entry.actor, entry.action, entry.detail, entry.rows)
