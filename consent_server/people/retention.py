"""Retention of people's addresses (R-05): an address is cleared CONSENT_PERSON_RETENTION_DAYS
after its last purpose ended (withdrawn, objected, the customer basis lapsed), and a sign-up never
confirmed when its link expired plus that time. Clearing is an erasure by the system: the keyed
hash and the events stay, for suppression and proof."""
import json
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import ledger
from ..consent import notices
from ..models import STATE
from ..vocabulary import Action, Basis, Purpose, Source
from . import webhooks
from .marketing import months_before
from .persons import CUSTOMER, KEYS, PERSON, by_subject, choices_of, event
from .rights import erase_subject
from .subscriptions import notice_of

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
    if row.action == Action.WITHDRAW:  # the state's end (a sale is none; a lapse is below)
        ends.append(row.recorded_at)
    if last_sale is not None and Purpose.MARKETING not in withdrawn:  # objected: ended then
        lapse = months_before(last_sale, -basis_months)
        if lapse > now.date():
            return None
        ends.append(datetime.combine(lapse, datetime.min.time(), now.tzinfo))
    return max(ends, default=row.created_at)


def lapse(session: Session, now: datetime, basis_months: int) -> int:
    """Record the end of every customer basis that lapsed (the last sale BASIS_MONTHS ago, no
    objection, no consent to marketing): an `expire` event by the system, basis `customer`,
    with a `person.lapsed` webhook in its transaction (L-09). Once per lapse: a later sale
    starts the basis, and its lapse, again. Returns how many."""
    cutoff = months_before(now.date(), basis_months)
    last_sales = (select(CUSTOMER.c.subject, func.max(CUSTOMER.c.sale_date).label("last"))
                  .group_by(CUSTOMER.c.subject).subquery())
    rows = session.execute(select(PERSON.c.subject, PERSON.c.email, PERSON.c.withdrawn,
                                  STATE.c.action, STATE.c.source, STATE.c.choices)
                           .join(last_sales, last_sales.c.subject == PERSON.c.subject)
                           .outerjoin(STATE, STATE.c.subject == PERSON.c.subject)
                           .where(PERSON.c.email.is_not(None), last_sales.c.last < cutoff)).all()
    lapsed = [row.subject for row in rows
              if Purpose.MARKETING not in json.loads(row.withdrawn or "{}")
              and not (row.action == Action.EXPIRE and row.source == Source.SYSTEM)
              and '"marketing":true' not in (row.choices or "")]
    for subject in lapsed:
        with ledger.locked(session) as writer:
            person, state = by_subject(writer.conn, subject), writer.state(subject)
            version, language, text_hash = notice_of(session, state, person)
            ended = writer.append(event(
                subject, action=Action.EXPIRE, choices=choices_of(state), policy_version=version,
                language=language, text_hash=text_hash, source=Source.SYSTEM,
                basis=Basis.CUSTOMER, details={"lapsed": "customer"},
                site=notices.site_of(writer.conn, version)), now=now)
            webhooks.enqueue(writer.conn, webhooks.LAPSED, person.email, ended)
    return len(lapsed)


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
