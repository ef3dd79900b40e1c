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
NOTICE_PUBLISHED = "notice_published"
WEBHOOK_ADDED, WEBHOOK_DISABLED = "webhook_added", "webhook_disabled"
CHECK, LOOKUP, CUSTOMERS = "check", "lookup", "customers"


@dataclass
class Entry:
    at: datetime
    email: str | None
    action: str
    detail: str | None
    rows: int | None


def record(session: Session, user_id: int | None, action: str, now: datetime,
           detail: str | None = None, rows: int | None = None) -> None:
    """Append one entry, committed at once in a unit of work of its own: whatever the caller
    does next, the entry stays."""
    with database.writing(session) as conn:
        conn.execute(insert(AccessLogEntry.__table__).values(
            at=now, user_id=user_id, action=action,
            detail=(detail or None) and detail[:255], rows=rows))


def latest(session: Session, limit: int = 500) -> list[Entry]:
    """The newest entries first, each with the staff address (None for an unknown one)."""
    rows = session.execute(
        select(AccessLogEntry, StaffUser.email)
        .outerjoin(StaffUser, AccessLogEntry.user_id == StaffUser.id)
        .order_by(AccessLogEntry.id.desc()).limit(limit))
    return [Entry(e.at, email, e.action, e.detail, e.rows) for e, email in rows]


def last(session: Session, action: str) -> Entry | None:
    """The newest entry of one kind, or None."""
    found = session.execute(
        select(AccessLogEntry, StaffUser.email)
        .outerjoin(StaffUser, AccessLogEntry.user_id == StaffUser.id)
        .where(AccessLogEntry.action == action)
        .order_by(AccessLogEntry.id.desc()).limit(1)).first()
    return Entry(found[0].at, found[1], found[0].action, found[0].detail, found[0].rows) \
        if found else None
