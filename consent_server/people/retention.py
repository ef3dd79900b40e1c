"""Retention of people's addresses (R-05): an address is cleared CONSENT_PERSON_RETENTION_DAYS
after its last purpose ended (withdrawn, objected, the customer basis lapsed), and a sign-up never
confirmed when its link expired plus that time. Clearing is an erasure by the system: the keyed
hash and the events stay, for suppression and proof."""
import json
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import STATE
from ..vocabulary import Action, Purpose, Source
from .marketing import months_before
from .persons import CUSTOMER, KEYS, PERSON
from .rights import erase_subject

COLUMNS = (PERSON.c.subject, PERSON.c.pending, PERSON.c.signup_at, PERSON.c.withdrawn,
           PERSON.c.created_at, STATE.c.action, STATE.c.choices, STATE.c.recorded_at)


def ended_at(row, last_sale, basis_months: int, now: datetime) -> datetime | None:
    """When the person's last purpose ended, or None while one is still going on: a consent
    given, a sign-up waiting (None until its link expired), a customer basis not lapsed nor
    objected to."""
    if row.action is not None and row.action != Action.ERASE:
        choices = json.loads(row.choices)
        if any(choices.get(key) for key in KEYS):
            return None
    withdrawn = json.loads(row.withdrawn or "{}")
    ends = [datetime.fromisoformat(at) for at in withdrawn.values()]
    if row.action in (Action.WITHDRAW, Action.EXPIRE):  # the state's end (a sale is no end)
        ends.append(row.recorded_at)
    if last_sale is not None and Purpose.MARKETING not in withdrawn:  # objected: ended then
        lapse = months_before(last_sale, -basis_months)
        if lapse > now.date():
            return None
        ends.append(datetime.combine(lapse, datetime.min.time(), now.tzinfo))
    return max(ends, default=row.created_at)


def purge(session: Session, now: datetime, days: int, confirm_hours: int,
          basis_months: int) -> int:
    """Clear the address of every person whose last purpose ended more than `days` ago, and of
    every sign-up whose link expired more than `days` ago without a confirmation; how many."""
    keep = timedelta(days=days)
    sales = dict(session.execute(select(CUSTOMER.c.subject, func.max(CUSTOMER.c.sale_date))
                                 .group_by(CUSTOMER.c.subject)).all())
    rows = session.execute(select(*COLUMNS).select_from(PERSON.outerjoin(
        STATE, STATE.c.subject == PERSON.c.subject)).where(PERSON.c.email.is_not(None))).all()
    due = []
    for row in rows:
        ended = ended_at(row, sales.get(row.subject), basis_months, now)
        if ended is None:
            continue
        if row.pending and row.signup_at is not None:  # waiting: its link's life first
            ended = max(ended, row.signup_at + timedelta(hours=confirm_hours))
        if ended + keep <= now:
            due.append(row.subject)
    for subject in due:
        erase_subject(session, subject, now, Source.SYSTEM)
    return len(due)
