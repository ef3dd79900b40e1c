"""People's subscriptions: sign-up with double opt-in (M-02), the confirmation mail, confirm,
unsubscribe (M-03, M-04), and withdrawal."""
import json
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import database, ledger
from ..consent import notices, purposes
from ..errors import Invalid
from ..http.network import truncate_ip
from ..ledger.chain import canonical, timestamp
from ..vocabulary import Action, Basis, Purpose, Source
from . import links, mail, webhooks
from .persons import (
    KEYS,
    PERSON,
    by_subject,
    choices_of,
    event,
    find_or_add,
    valid_address,
    withdrawn_of,
)

log = logging.getLogger(__name__)


def sign_up(session: Session, *, email: str, choices: dict, language: str, policy_version: str,
            now: datetime, consent_id: str | None = None, ip: str | None = None,
            user_agent: str | None = None) -> tuple[str, dict | None]:
    """A sign-up: "pending" with a confirmation mail (double opt-in), else "active" at once
    with the grant it recorded.

    The answer is the same whether the address was known or not; a confirmation mail goes out
    at most once per CONSENT_CONFIRM_RESEND_MINUTES per address.
    """
    address = valid_address(email)
    wanted = {key: True for key, value in choices.items() if value}
    unknown = [key for key in choices if key not in KEYS]
    if unknown or not wanted:
        raise Invalid("Choose at least one of: " + ", ".join(KEYS) + ".",
                      {"purposes": [f"Unknown purpose: {key}." for key in unknown]
                       or ["Nothing to subscribe to."]})
    text_hash = notices.text_hash(session, policy_version, language)
    cfg = current_app.config
    if not cfg["DOUBLE_OPT_IN"]:
        with ledger.locked(session) as writer:
            person = find_or_add(writer.conn, address, language, consent_id, now)
            granted = grant(writer, person, wanted, policy_version, language, text_hash,
                            Source.SIGNUP, truncate_ip(ip), now, user_agent)
        return "active", granted
    resend = timedelta(minutes=float(cfg["CONFIRM_RESEND_MINUTES"]))
    with ledger.locked(session) as writer:  # the chain lock serialises writers of person rows
        person = find_or_add(writer.conn, address, language, consent_id, now)
        pending = {**json.loads(person.pending or "{}"), **wanted}
        due = person.mail_sent_at is None or now - person.mail_sent_at >= resend
        writer.conn.execute(update(PERSON).where(PERSON.c.subject == person.subject).values(
            pending=canonical(pending).decode(), pending_policy_version=policy_version,
            language=language, signup_at=now, signup_ip=truncate_ip(ip),
            confirm_nonce=person.confirm_nonce or secrets.token_hex(16),
            mail_due=person.mail_due or due, consent_id=consent_id or person.consent_id))
    if due:
        deliver(session, person.subject, now)
    return "pending", None


def grant(writer: ledger.Writer, person, wanted: dict, policy_version: str, language: str,
          text_hash: str, source: Source, ip: str | None, now: datetime,
          user_agent: str | None = None, details: dict | None = None) -> dict:
    """Record the grant of the purposes wanted (others unchanged) and end the pending sign-up;
    returns its event."""
    state = writer.state(person.subject)
    before = choices_of(state)
    granted = writer.append(event(
        person.subject, action=Action.UPDATE if any(before.values()) else Action.GRANT,
        choices={**before, **wanted}, policy_version=policy_version, language=language,
        text_hash=text_hash, source=source, ip=ip, user_agent=user_agent, basis=Basis.CONSENT,
        details=details, site=notices.site_of(writer.conn, policy_version)), now=now)
    writer.conn.execute(update(PERSON).where(PERSON.c.subject == person.subject).values(
        pending=None, pending_policy_version=None, confirm_nonce=None, mail_due=False,
        language=language))
    webhooks.enqueue(writer.conn, webhooks.GRANTED, person.email, granted)
    return granted


def deliver(session: Session, subject: str, now: datetime) -> bool:
    """Send a person's due confirmation mail; False (and still due) when it failed."""
    person = by_subject(session, subject)
    if person is None or not person.mail_due or not person.email or not person.confirm_nonce:
        return False
    pending = json.loads(person.pending or "{}")
    site = current_app.extensions["consent_site"]
    with force_locale(person.language):
        names = [{"name": str(purposes.BY_KEY[key].name),
                  "meaning": site.meaning(key, person.language)}
                 for key in KEYS if pending.get(key)]
    message = person_mail("confirm", person.email, person.language,
                          links.confirm_url(person.subject, person.confirm_nonce),
                          purposes=names)
    try:
        mail.send(message)
    except mail.MailError as error:
        log.warning("confirmation mail not sent (%s); it stays due for send-pending", error)
        return False
    with database.writing(session) as conn:
        conn.execute(update(PERSON).where(PERSON.c.subject == subject)
                     .values(mail_due=False, mail_sent_at=now))
    return True


def send_pending(session: Session, now: datetime) -> tuple[int, int]:
    """Retry every due confirmation mail; returns (sent, failed)."""
    due = session.execute(select(PERSON.c.subject).where(PERSON.c.mail_due)).scalars().all()
    sent = sum(deliver(session, subject, now) for subject in due)
    return sent, len(due) - sent


def _confirmable(session: Session, token: str):
    """The person a confirmation token stands for while it can still be used."""
    person, payload = links.person_of(session, links.CONFIRM, token, expired=(
        "This confirmation link has expired. Please sign up again."))
    if not person.confirm_nonce or not secrets.compare_digest(person.confirm_nonce,
                                                              str(payload.get("n"))):
        raise links.LinkUsed("This confirmation link has already been used.")
    return person


def confirm_page(session: Session, token: str) -> dict:
    """What the confirmation page shows (the person's language and purposes); changes nothing."""
    person = _confirmable(session, token)
    return {"language": person.language, "purposes": json.loads(person.pending or "{}")}


def confirm(session: Session, token: str, now: datetime, ip: str | None = None,
            user_agent: str | None = None) -> dict:
    """Use a confirmation link (once): record the grant, source `confirm`; returns the
    person's language, choices and the event."""
    subject = _confirmable(session, token).subject
    with ledger.locked(session) as writer:
        person = by_subject(writer.conn, subject)  # again, under the lock: single use
        if person is None or not person.confirm_nonce or not person.pending:
            raise links.LinkUsed("This confirmation link has already been used.")
        version = person.pending_policy_version
        text_hash = notices.text_hash(session, version, person.language)
        details = {"signed_up_at": timestamp(person.signup_at)} if person.signup_at else None
        granted = grant(writer, person, json.loads(person.pending), version, person.language,
                        text_hash, Source.CONFIRM, truncate_ip(ip), now, user_agent, details)
    return {"language": person.language, "choices": json.loads(granted["choices"]),
            "event": granted}


def unsubscribe_target(session: Session, token: str) -> tuple[object, dict]:
    """The person of an unsubscribe link, and what its page shows (the purpose and the
    person's language). Changes nothing."""
    person, payload = links.person_of(session, links.UNSUBSCRIBE, token)
    if payload.get("p") not in KEYS:
        raise links.LinkInvalid("This link is not valid.")
    return person, {"language": person.language, "purpose": payload["p"]}


def unsubscribe(session: Session, token: str, everything: bool, now: datetime) -> dict:
    """Withdraw the link's purpose (or every purpose) at once; using a link twice is harmless.
    Returns what the page shows, with the event (None when there was nothing to withdraw)."""
    person, target = unsubscribe_target(session, token)
    chosen = KEYS if everything else (target["purpose"],)
    return {**target, "event": withdraw(session, person.subject, chosen, Source.UNSUBSCRIBE,
                                        now)}


OBJECTION = {"objection": "marketing"}  # an event's details: GDPR Art. 21(3), absolute


def withdraw(session: Session, subject: str, chosen, source: Source,
             now: datetime) -> dict | None:
    """Withdraw purposes of a person and note the withdrawal; from marketing it is an
    objection (R-03: link, one-click or own page), which no customer relationship, not even a
    later sale, overrides (M-07); only a new consent does. Returns the event appended, or None
    when all was withdrawn already."""
    with ledger.locked(session) as writer:
        person = by_subject(writer.conn, subject)
        state = writer.state(subject)
        if person is None or state is not None and state.action == Action.ERASE:
            return None
        before = choices_of(state)
        marks = withdrawn_of(person)
        if not any(before[key] for key in chosen) and all(key in marks for key in chosen):
            return None  # a second click, a retried one-click POST
        after = {**before, **{key: False for key in chosen}}
        marks.update({key: marks.get(key, timestamp(now)) for key in chosen})
        version, language, text_hash = notice_of(session, state, person)
        withdrawn = writer.append(event(
            subject, action=Action.UPDATE if any(after.values()) else Action.WITHDRAW,
            choices=after, policy_version=version, language=language, text_hash=text_hash,
            source=source, details=OBJECTION if Purpose.MARKETING in chosen else None,
            site=notices.site_of(writer.conn, version)), now=now)
        webhooks.enqueue(writer.conn, webhooks.OBJECTED if Purpose.MARKETING in chosen
                         else webhooks.WITHDRAWN, person.email, withdrawn)
        pending = {k: v for k, v in json.loads(person.pending or "{}").items() if k not in chosen}
        writer.conn.execute(update(PERSON).where(PERSON.c.subject == subject).values(
            withdrawn=canonical(marks).decode(), pending=canonical(pending).decode() if pending
            else None, confirm_nonce=person.confirm_nonce if pending else None,
            mail_due=person.mail_due and bool(pending)))
    return withdrawn


def notice_of(session: Session, state, person) -> tuple[str, str, str | None]:
    """The notice version, language and text hash a change is recorded under: the subject's
    last ones, or the current version for a subject with no state yet."""
    if state is not None:
        return state.policy_version, state.language, state.text_hash
    current = notices.current(session)
    if current is None:
        raise Invalid("No notice version has been published yet.")
    return current.version, person.language, notices.text_hash(session, current.version,
                                                                person.language)


def person_mail(kind: str, to: str, language: str, url: str, **context):
    """A mail to a person with its one link (valid CONFIRM_MAX_AGE_HOURS), naming the
    controller and the privacy notice in the person's language."""
    return mail.build(kind, to, language, controller=current_app.extensions["consent_site"]
                      .controller, url=url, hours=current_app.config["CONFIRM_MAX_AGE_HOURS"],
                      privacy_url=links.public_url(f"/privacy/{language}"), **context)
