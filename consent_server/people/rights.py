"""A person's rights by signed link (R-01, R-02, R-04): the access link, the own page with its
history, changing choices, erasure; and an admin's correction of an address."""
import json
import logging
import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .. import database, ledger
from ..consent import notices
from ..errors import Conflict, NotFound
from ..extensions import db
from ..ledger.chain import canonical, timestamp
from ..models import EVENTS
from ..vocabulary import DEFAULT_SITE, Action, Basis, Purpose, Source
from . import links, mail, webhooks
from .addresses import InvalidAddress, normalise
from .marketing import customer_cutoff
from .persons import (
    CUSTOMER,
    KEYS,
    PERSON,
    address_hash,
    by_address,
    by_hash,
    by_subject,
    choices_of,
    event,
    no_choices,
    valid_address,
    withdrawn_of,
)
from .subscriptions import grant, notice_of, person_mail, withdraw

log = logging.getLogger(__name__)
# What a person's own page and download show of each event (never IP, user agent or digests).
SHOWN = ("recorded_at", "action", "source", "policy_version", "language", "text_hash",
         "event_id", "seq", "hash", "basis")


def request_access(session: Session, email: str, now: datetime) -> None:
    """Mail a link to the person's own page when the address is known, at most once per
    CONSENT_CONFIRM_RESEND_MINUTES (as sign-up's confirmation): the caller answers 202 either
    way (an address is never confirmed or denied, a mail flood never sent)."""
    try:
        address = normalise(email)
    except InvalidAddress:
        return
    person = by_address(session, address)
    if person is None or not person.email:
        return
    resend = timedelta(minutes=float(current_app.config["CONFIRM_RESEND_MINUTES"]))
    with database.writing(session) as conn:  # one statement: parallel requests send one mail
        claimed = conn.execute(update(PERSON).where(
            PERSON.c.subject == person.subject,
            or_(PERSON.c.access_sent_at.is_(None), PERSON.c.access_sent_at <= now - resend))
            .values(access_sent_at=now)).rowcount
    if not claimed:
        return
    message = person_mail("access", person.email, person.language,
                          links.access_url(person.subject))
    try:
        mail.send(message)
    except mail.MailError as error:
        log.warning("access mail not sent (%s)", error)
        with database.writing(session) as conn:  # not sent: the next request may try again
            conn.execute(update(PERSON).where(PERSON.c.subject == person.subject,
                                              PERSON.c.access_sent_at == now)
                         .values(access_sent_at=None))


def own_page(session: Session, token: str) -> dict:
    """The person's own page: address, choices, pending sign-up and every event (R-01)."""
    person, _ = links.person_of(session, links.ACCESS, token)
    state = ledger.state(session, person.subject)
    rows = session.execute(select(EVENTS).where(EVENTS.c.subject == person.subject)
                           .order_by(EVENTS.c.seq)).mappings().all()
    choices = choices_of(state)
    sales = _sales(session, person)
    objected = Purpose.MARKETING in withdrawn_of(person)
    basis = {key: Basis.CONSENT if choices[key] else None for key in KEYS}
    if not choices[Purpose.MARKETING] and not objected and any(s["current"] for s in sales):
        basis[Purpose.MARKETING] = Basis.CUSTOMER
    return {
        "email": person.email, "language": person.language, "erased": person.email is None,
        "restricted": person.restricted_at is not None,
        "subject": person.subject, "basis": basis, "sales": sales, "objected": objected,
        "receiving": {key: basis[key] is not None for key in KEYS},
        "choices": choices, "pending": json.loads(person.pending or "{}"),
        "events": [{**{key: row[key] for key in SHOWN}, "choices": json.loads(row["choices"]),
                    "details": json.loads(row["details"]) if row["details"] else None}
                   for row in rows],
    }


def held(session: Session, subject: str) -> dict[str, list[dict]]:
    """Every row of every table that holds something about this subject (a `subject` column),
    every column of it, by table name (R-06): what the download gives the person."""
    found = {}
    for table in db.metadata.sorted_tables:
        if "subject" not in table.c:
            continue
        rows = session.execute(select(table).where(table.c.subject == subject)
                               .order_by(*table.primary_key.columns)).mappings().all()
        found[table.name] = [{key: value.isoformat() if isinstance(value, datetime | date)
                              else value for key, value in row.items()} for row in rows]
    return found


def _sales(session: Session, person) -> list[dict]:
    """The person's customer relationships (M-07): each product category's last sale, and
    whether it still gives a basis (CUSTOMER_BASIS_MONTHS)."""
    cutoff = customer_cutoff()
    rows = session.execute(select(CUSTOMER.c.product_category, CUSTOMER.c.sale_date).where(
        CUSTOMER.c.subject == person.subject).order_by(CUSTOMER.c.sale_date.desc())).all()
    return [{"product_category": row.product_category, "sale_date": row.sale_date,
             "current": row.sale_date >= cutoff} for row in rows]


def object_to_marketing(session: Session, token: str, now: datetime) -> dict:
    """The person objects to direct marketing (GDPR Art. 21(2)-(3), R-03): every purpose
    withdrawn at once, whatever its basis, and no later sale brings the customer basis back."""
    person, _ = links.person_of(session, links.ACCESS, token)
    if person.email is None:
        raise links.LinkInvalid("This address has been erased.")
    withdraw(session, person.subject, KEYS, Source.API, now)
    return own_page(session, token)


def change(session: Session, token: str, choices: dict, now: datetime) -> dict:
    """The person's page changes their choices: withdrawals at once; a new purpose is a grant
    (the link proves the address, so no second confirmation). Source `preferences`: the person's
    own page, told apart from the controller's `api`."""
    person, _ = links.person_of(session, links.ACCESS, token)
    if person.email is None:
        raise links.LinkInvalid("This address has been erased.")
    # What the page showed ticked: consent, or for marketing a current customer basis, whose
    # unticking is an objection (M-07, R-03).
    before = own_page(session, token)["receiving"]
    off = tuple(key for key in KEYS if before[key] and not choices.get(key))
    on = {key: True for key in KEYS if choices.get(key) and not before[key]}
    if off:
        withdraw(session, person.subject, off, Source.PREFERENCES, now)
    if on:  # under the current notice of the site the person chose on (their state's)
        state = ledger.state(session, person.subject)
        site = state.site if state else DEFAULT_SITE
        version = (notices.current(session, site) or notices.current(session)).version
        text_hash = notices.text_hash(session, version, person.language)
        with ledger.locked(session) as writer:
            grant(writer, by_subject(writer.conn, person.subject), on, version,
                  person.language, text_hash, Source.PREFERENCES, None, now)
    return own_page(session, token)


def restrict(session: Session, token: str, on: bool, now: datetime) -> dict:
    """The person restricts processing (Art. 18, R-04) or lifts it: the data is kept, and while
    restricted the check and the audience deny every purpose (reason `restricted`). Recorded as
    an event with the choices unchanged, so the history shows when."""
    person, _ = links.person_of(session, links.ACCESS, token)
    if person.email is None:
        raise links.LinkInvalid("This address has been erased.")
    if (person.restricted_at is not None) != on:
        with ledger.locked(session) as writer:
            state = writer.state(person.subject)
            version, language, text_hash = notice_of(session, state, person)
            writer.conn.execute(update(PERSON).where(PERSON.c.subject == person.subject)
                                .values(restricted_at=now if on else None))
            writer.append(event(person.subject, action=Action.UPDATE,
                                choices=choices_of(state), policy_version=version,
                                language=language, text_hash=text_hash,
                                source=Source.PREFERENCES, details={"restricted": on},
                                site=notices.site_of(writer.conn, version)), now=now)
    return own_page(session, token)


def erase(session: Session, token: str, now: datetime) -> None:
    """Erase the person behind an access link (see erase_subject)."""
    person, _ = links.person_of(session, links.ACCESS, token)
    erase_subject(session, person.subject, now, Source.PREFERENCES)


def erase_subject(session: Session, subject: str, now: datetime,
                  source: Source = Source.API) -> None:
    """Erase one person: the address and personal fields go; the keyed hash stays in ledger and
    state, so the address stays suppressed and the proof stays valid (R-02). Source `system`
    when retention clears it (R-05)."""
    with ledger.locked(session) as writer:
        person = by_subject(writer.conn, subject)
        state = writer.state(subject)
        if person is None:
            raise NotFound("No such person.")
        if person.email is None and state is not None and state.action == Action.ERASE:
            return
        address = person.email
        version, language, text_hash = notice_of(session, state, person)
        writer.erase_personal_fields(subject)
        erased = writer.append(event(subject, action=Action.ERASE, choices=no_choices(),
                                     policy_version=version, language=language,
                                     text_hash=text_hash, source=source,
                                     site=notices.site_of(writer.conn, version)), now=now)
        webhooks.enqueue(writer.conn, webhooks.ERASED, person.email, erased)
        marks = withdrawn_of(person)
        marks.update({key: marks.get(key, timestamp(now)) for key in KEYS})
        writer.conn.execute(update(PERSON).where(PERSON.c.subject == subject).values(
            email=None, signup_ip=None, consent_id=None, pending=None, new_email=None,
            new_email_nonce=None,
            pending_policy_version=None, confirm_nonce=None, mail_due=False,
            withdrawn=canonical(marks).decode()))
        writer.conn.execute(delete(CUSTOMER).where(CUSTOMER.c.subject == subject))
    if address:
        mail.forget(address)  # after the commit: the outbox's mails to the address go too


def ask_new_address(session: Session, token: str, new_email: str) -> None:
    """The person asks to change their address (Art. 16, R-04): a link to confirm it goes to
    the new address; nothing changes until it is used. Invalid for a malformed address; an
    address another person holds gets no mail (and the answer is the same: it tells nothing)."""
    person, _ = links.person_of(session, links.ACCESS, token)
    if person.email is None:
        raise links.LinkInvalid("This address has been erased.")
    new = valid_address(new_email, "new_email")
    taken = by_hash(session, address_hash(new))
    if taken is not None and taken.subject != person.subject:
        return
    nonce = secrets.token_urlsafe(16)
    with database.writing(session) as conn:
        conn.execute(update(PERSON).where(PERSON.c.subject == person.subject)
                     .values(new_email=new, new_email_nonce=nonce))
    message = person_mail("new_address", new, person.language,
                          links.new_address_url(person.subject, nonce))
    try:
        mail.send(message)
    except mail.MailError as error:
        log.warning("new-address mail not sent (%s)", error)


def new_address(session: Session, token: str, now: datetime | None = None) -> dict:
    """The new-address link: the person and the address it confirms; with `now`, the change is
    made (same subject, so the history stays) and the link is used up."""
    person, payload = links.person_of(session, links.NEW_ADDRESS, token)
    if not person.new_email_nonce or not secrets.compare_digest(person.new_email_nonce,
                                                                str(payload.get("n"))):
        raise links.LinkUsed("This link has already been used.")
    shown = {"email": person.new_email, "language": person.language}
    if now is not None:
        with database.writing(session) as conn:
            conn.execute(update(PERSON).where(PERSON.c.subject == person.subject)
                         .values(new_email=None, new_email_nonce=None))
        rectify(session, person.email, person.new_email, now, Source.PREFERENCES)
    return shown


def rectify(session: Session, email: str, new_email: str, now: datetime,
            source: Source = Source.API) -> dict:
    """An admin corrects a person's address (R-04): same subject, so its history stays."""
    old, new = valid_address(email), valid_address(new_email, "new_email")
    with ledger.locked(session) as writer:
        person = by_address(writer.conn, old)
        if person is None or person.email is None:
            raise NotFound("No person with this address.")
        taken = by_hash(writer.conn, address_hash(new))
        if taken is not None and taken.subject != person.subject:
            raise Conflict("Another person has this address.")
        writer.conn.execute(update(PERSON).where(PERSON.c.subject == person.subject)
                            .values(email=new, address_hash=address_hash(new)))
        state = writer.state(person.subject)
        version, language, text_hash = notice_of(session, state, person)
        writer.append(event(person.subject, action=Action.UPDATE, choices=choices_of(state),
                            policy_version=version, language=language, text_hash=text_hash,
                            source=source, details={"rectified": True},
                            site=notices.site_of(writer.conn, version)), now=now)
    return {"email": new, "subject": person.subject}
