"""A person's rights by signed link (R-01, R-02, R-04): the access link, the own page with its
history, changing choices, erasure; and an admin's correction of an address."""
import json
import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .. import database, ledger
from ..consent import notices
from ..errors import Conflict, NotFound
from ..ledger.chain import canonical, timestamp
from ..models import EVENTS
from ..vocabulary import Action, Source
from . import links, mail
from .addresses import InvalidAddress, normalise
from .persons import (
    CUSTOMER,
    KEYS,
    PERSON,
    address_hash,
    by_hash,
    by_subject,
    choices_of,
    event,
    no_choices,
    valid_address,
    withdrawn_of,
)
from .subscriptions import grant, notice_of, withdraw

log = logging.getLogger(__name__)
# What a person's own page and download show of each event (never IP, user agent or digests).
SHOWN = ("recorded_at", "action", "source", "policy_version", "language", "text_hash",
         "event_id", "seq", "hash")


def request_access(session: Session, email: str, now: datetime) -> None:
    """Mail a link to the person's own page when the address is known, at most once per
    CONSENT_CONFIRM_RESEND_MINUTES (as sign-up's confirmation): the caller answers 202 either
    way (an address is never confirmed or denied, a mail flood never sent)."""
    try:
        address = normalise(email)
    except InvalidAddress:
        return
    person = by_hash(session, address_hash(address))
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
    site = current_app.extensions["consent_site"]
    message = mail.build("access", person.email, person.language, controller=site.controller,
                         url=links.access_url(person.subject),
                         hours=current_app.config["CONFIRM_MAX_AGE_HOURS"],
                         privacy_url=links.public_url(f"/privacy/{person.language}"))
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
    return {
        "email": person.email, "language": person.language, "erased": person.email is None,
        "subject": person.subject,
        "choices": choices_of(state), "pending": json.loads(person.pending or "{}"),
        "events": [{**{key: row[key] for key in SHOWN}, "choices": json.loads(row["choices"])}
                   for row in rows],
    }


def change(session: Session, token: str, choices: dict, now: datetime) -> dict:
    """The person's page changes their choices: withdrawals at once; a new purpose is a grant
    (the link proves the address, so no second confirmation)."""
    person, _ = links.person_of(session, links.ACCESS, token)
    if person.email is None:
        raise links.LinkInvalid("This address has been erased.")
    before = choices_of(ledger.state(session, person.subject))
    off = tuple(key for key in KEYS if before[key] and not choices.get(key))
    on = {key: True for key in KEYS if choices.get(key) and not before[key]}
    if off:
        withdraw(session, person.subject, off, Source.API, now)
    if on:
        version = notices.current(session).version
        text_hash = notices.text_hash(session, version, person.language)
        with ledger.locked(session) as writer:
            grant(writer, by_subject(writer.conn, person.subject), on, version,
                  person.language, text_hash, Source.API, None, now)
    return own_page(session, token)


def erase(session: Session, token: str, now: datetime) -> None:
    """Erase the person behind an access link (see erase_subject)."""
    person, _ = links.person_of(session, links.ACCESS, token)
    erase_subject(session, person.subject, now)


def erase_subject(session: Session, subject: str, now: datetime) -> None:
    """Erase one person: the address and personal fields go; the keyed hash stays in ledger and
    state, so the address stays suppressed and the proof stays valid (R-02)."""
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
        writer.append(event(subject, action=Action.ERASE, choices=no_choices(),
                            policy_version=version, language=language, text_hash=text_hash,
                            source=Source.API), now=now)
        marks = withdrawn_of(person)
        marks.update({key: marks.get(key, timestamp(now)) for key in KEYS})
        writer.conn.execute(update(PERSON).where(PERSON.c.subject == subject).values(
            email=None, signup_ip=None, consent_id=None, pending=None,
            pending_policy_version=None, confirm_nonce=None, mail_due=False,
            withdrawn=canonical(marks).decode()))
        writer.conn.execute(delete(CUSTOMER).where(CUSTOMER.c.subject == subject))
    if address:
        mail.forget(address)  # after the commit: the outbox's mails to the address go too


def rectify(session: Session, email: str, new_email: str, now: datetime) -> dict:
    """An admin corrects a person's address (R-04): same subject, so its history stays."""
    old, new = valid_address(email), valid_address(new_email, "new_email")
    with ledger.locked(session) as writer:
        person = by_hash(writer.conn, address_hash(old))
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
                            source=Source.API, details={"rectified": True}), now=now)
    return {"email": new, "subject": person.subject}
