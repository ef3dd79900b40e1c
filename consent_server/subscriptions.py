"""People's subscriptions: sign-up with double opt-in, confirm, unsubscribe, access, change,
erase, and an admin's correction of an address."""
import json
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from . import ledger, mail, policy, purposes, tokens
from .addresses import InvalidAddress, normalise
from .consents import truncate_ip
from .errors import DomainError, Invalid, NotFound
from .chain import canonical, timestamp
from .people import (CUSTOMER, ERASED, KEYS, PERSON, address_hash, by_hash, by_subject,
                     choices_of, event, no_choices, withdrawn_of)

log = logging.getLogger(__name__)


class LinkInvalid(DomainError):
    status = 404
    title = "Not Found"


class LinkExpired(DomainError):
    status = 410
    title = "Gone"


class LinkUsed(DomainError):
    status = 410
    title = "Gone"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


def _address(email: str, field: str = "email") -> str:
    try:
        return normalise(email)
    except InvalidAddress as error:
        raise Invalid("This is not an e-mail address we can write to.",
                      {field: [str(error)]}) from None


def _public_url(path: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def confirm_url(subject: str, nonce: str) -> str:
    return _public_url(f"/subscriptions/confirm/{tokens.sign(tokens.CONFIRM, {'s': subject, 'n': nonce})}")


def unsubscribe_url(subject: str, purpose: str) -> str:
    """The person's unsubscribe link for one purpose (signed, never expiring)."""
    return _public_url(f"/unsubscribe/{tokens.sign(tokens.UNSUBSCRIBE, {'s': subject, 'p': purpose})}")


def access_url(subject: str) -> str:
    return _public_url(f"/subscriptions/me/{tokens.sign(tokens.ACCESS, {'s': subject})}")


def sign_up(session: Session, *, email: str, choices: dict, language: str, policy_version: str,
            now: datetime, consent_id: str | None = None, ip: str | None = None,
            user_agent: str | None = None) -> tuple[str, dict | None]:
    """A sign-up: "pending" with a confirmation mail (double opt-in), else "active" at once
    with the grant it recorded.

    The answer is the same whether the address was known or not; a confirmation mail goes out
    at most once per CONSENT_CONFIRM_RESEND_MINUTES per address.
    """
    address = _address(email)
    wanted = {key: True for key, value in choices.items() if value}
    unknown = [key for key in choices if key not in KEYS]
    if unknown or not wanted:
        raise Invalid("Choose at least one of: " + ", ".join(KEYS) + ".",
                      {"purposes": [f"Unknown purpose: {key}." for key in unknown]
                       or ["Nothing to subscribe to."]})
    text_hash = policy.text_hash(session, policy_version, language)
    hashed = address_hash(address)
    cfg = current_app.config
    if not cfg["DOUBLE_OPT_IN"]:
        with ledger.writing(session) as writer:
            person = _person(writer.conn, hashed, address, language, consent_id, now)
            granted = _grant(writer, person, wanted, policy_version, language, text_hash,
                             "signup", truncate_ip(ip), now, user_agent)
        return "active", granted
    resend = timedelta(minutes=float(cfg["CONFIRM_RESEND_MINUTES"]))
    with ledger.writing(session) as writer:  # the chain lock serialises writers of person rows
        person = _person(writer.conn, hashed, address, language, consent_id, now)
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


def _person(conn, hashed: str, address: str, language: str, consent_id: str | None,
            now: datetime):
    """The person row of an address, made when new; an erased one gets its address back."""
    person = by_hash(conn, hashed)
    if person is None:
        conn.execute(insert(PERSON).values(
            subject=hashed, address_hash=hashed, email=address, language=language,
            consent_id=consent_id, created_at=now, mail_due=False, withdrawn="{}"))
    elif person.email != address:
        conn.execute(update(PERSON).where(PERSON.c.subject == person.subject)
                     .values(email=address))
    return by_hash(conn, hashed)


def _grant(writer, person, wanted: dict, policy_version: str, language: str, text_hash: str,
           source: str, ip: str | None, now: datetime, user_agent: str | None = None,
           details: dict | None = None) -> dict:
    """Record the grant of the purposes wanted (others unchanged); returns its event."""
    state = writer.state(person.subject)
    before = choices_of(state)
    after = {**before, **wanted}
    action = "update" if any(before.values()) else "grant"
    granted = writer.append(event(
        person.subject, action=action, choices=after, policy_version=policy_version,
        language=language, text_hash=text_hash, source=source, ip=ip, user_agent=user_agent,
        basis="consent", details=details), now=now)
    writer.conn.execute(update(PERSON).where(PERSON.c.subject == person.subject).values(
        pending=None, pending_policy_version=None, confirm_nonce=None, mail_due=False,
        language=language))
    return granted


def deliver(session: Session, subject: str, now: datetime) -> bool:
    """Send a person's due confirmation mail; False (and still due) when it failed."""
    person = by_subject(session, subject)
    session.rollback()
    if person is None or not person.mail_due or not person.email or not person.confirm_nonce:
        return False
    site = current_app.extensions["consent_site"]
    pending = json.loads(person.pending or "{}")
    from flask_babel import force_locale

    with force_locale(person.language):
        names = [str(purposes.BY_KEY[key].name) for key in KEYS if pending.get(key)]
    message = mail.build("confirm", person.email, person.language,
                         controller=site.controller, purposes=names,
                         url=confirm_url(person.subject, person.confirm_nonce),
                         hours=current_app.config["CONFIRM_MAX_AGE_HOURS"],
                         privacy_url=_public_url(f"/privacy/{person.language}"))
    try:
        mail.send(message)
    except mail.MailError as error:
        log.warning("confirmation mail not sent (%s); it stays due for send-pending", error)
        return False
    session.execute(update(PERSON).where(PERSON.c.subject == subject)
                    .values(mail_due=False, mail_sent_at=now))
    session.commit()
    return True


def send_pending(session: Session, now: datetime) -> tuple[int, int]:
    """Retry every due confirmation mail; returns (sent, failed)."""
    due = session.execute(select(PERSON.c.subject).where(PERSON.c.mail_due)).scalars().all()
    session.rollback()
    sent = sum(deliver(session, subject, now) for subject in due)
    return sent, len(due) - sent


def _confirmable(session: Session, token: str):
    """The person a confirmation token stands for while it can still be used."""
    try:
        payload = tokens.load(tokens.CONFIRM, token)
    except tokens.Expired:
        raise LinkExpired("This confirmation link has expired. Please sign up again.") from None
    except tokens.Forged:
        raise LinkInvalid("This confirmation link is not valid.") from None
    person = by_subject(session, str(payload.get("s")))
    if person is None:
        raise LinkInvalid("This confirmation link is not valid.")
    if not person.confirm_nonce or not secrets.compare_digest(person.confirm_nonce,
                                                              str(payload.get("n"))):
        raise LinkUsed("This confirmation link has already been used.")
    return person


def confirm_page(session: Session, token: str) -> dict:
    """What the confirmation page shows (the person's language and purposes); changes nothing."""
    person = _confirmable(session, token)
    session.rollback()
    return {"language": person.language, "purposes": json.loads(person.pending or "{}")}


def confirm(session: Session, token: str, now: datetime, ip: str | None = None,
            user_agent: str | None = None) -> dict:
    """Use a confirmation link (once): record the grant, source `confirm`; returns the
    person's language, choices and the event."""
    subject = _confirmable(session, token).subject
    with ledger.writing(session) as writer:
        person = by_subject(writer.conn, subject)  # again, under the lock: single use
        if person is None or not person.confirm_nonce or not person.pending:
            raise LinkUsed("This confirmation link has already been used.")
        version = person.pending_policy_version
        text_hash = policy.text_hash(session, version, person.language)
        details = {"signed_up_at": timestamp(person.signup_at)} if person.signup_at else None
        wanted = json.loads(person.pending)
        granted = _grant(writer, person, wanted, version, person.language, text_hash,
                         "confirm", truncate_ip(ip), now, user_agent, details)
    return {"language": person.language, "choices": json.loads(granted["choices"]),
            "event": granted}


def _by_token(session: Session, kind: str, token: str):
    try:
        payload = tokens.load(kind, token)
    except tokens.Expired:
        raise LinkExpired("This link has expired. Please ask for a new one.") from None
    except tokens.Forged:
        raise LinkInvalid("This link is not valid.") from None
    person = by_subject(session, str(payload.get("s")))
    if person is None:
        raise LinkInvalid("This link is not valid.")
    return person, payload


def unsubscribe_target(session: Session, token: str) -> dict:
    """What an unsubscribe page shows: the purpose and the person's language. Changes nothing."""
    person, payload = _by_token(session, tokens.UNSUBSCRIBE, token)
    session.rollback()
    if payload.get("p") not in KEYS:
        raise LinkInvalid("This link is not valid.")
    return {"language": person.language, "purpose": payload["p"]}


def unsubscribe(session: Session, token: str, everything: bool, now: datetime) -> dict:
    """Withdraw the link's purpose (or every purpose) at once; using a link twice is harmless.
    Returns what the page shows, with the event (None when there was nothing to withdraw)."""
    target = unsubscribe_target(session, token)
    person, _ = _by_token(session, tokens.UNSUBSCRIBE, token)
    session.rollback()
    chosen = KEYS if everything else (target["purpose"],)
    return {**target, "event": withdraw(session, person.subject, chosen, "unsubscribe", now)}


def withdraw(session: Session, subject: str, chosen, source: str, now: datetime) -> dict | None:
    """Withdraw purposes of a person and note the objection (which no customer relationship
    overrides); returns the event appended, or None when all was withdrawn already."""
    with ledger.writing(session) as writer:
        person = by_subject(writer.conn, subject)
        state = writer.state(subject)
        if person is None or state is not None and state.action == ERASED:
            return None
        before = choices_of(state)
        marks = withdrawn_of(person)
        if not any(before[key] for key in chosen) and all(key in marks for key in chosen):
            return None  # a second click, a retried one-click POST
        after = {**before, **{key: False for key in chosen}}
        marks.update({key: marks.get(key, timestamp(now)) for key in chosen})
        version, language, text_hash = _notice_of(session, state, person)
        withdrawn = writer.append(event(
            subject, action="update" if any(after.values()) else "withdraw", choices=after,
            policy_version=version, language=language, text_hash=text_hash, source=source),
            now=now)
        pending = {k: v for k, v in json.loads(person.pending or "{}").items() if k not in chosen}
        writer.conn.execute(update(PERSON).where(PERSON.c.subject == subject).values(
            withdrawn=canonical(marks).decode(), pending=canonical(pending).decode() if pending
            else None, confirm_nonce=person.confirm_nonce if pending else None,
            mail_due=person.mail_due and bool(pending)))
    return withdrawn


def _notice_of(session: Session, state, person) -> tuple[str, str, str | None]:
    """The notice version, language and text hash a change is recorded under: the subject's
    last ones, or the current version for a subject with no state yet."""
    if state is not None:
        return state.policy_version, state.language, state.text_hash
    current = policy.current(session)
    if current is None:
        raise Invalid("No notice version has been published yet.")
    return current.version, person.language, policy.text_hash(session, current.version,
                                                               person.language)


def request_access(session: Session, email: str, now: datetime) -> None:
    """Mail a link to the person's own page when the address is known; the caller answers 202
    either way (an address is never confirmed or denied)."""
    try:
        address = normalise(email)
    except InvalidAddress:
        return
    person = by_hash(session, address_hash(address))
    session.rollback()
    if person is None or not person.email:
        return
    site = current_app.extensions["consent_site"]
    message = mail.build("access", person.email, person.language, controller=site.controller,
                         url=access_url(person.subject),
                         hours=current_app.config["CONFIRM_MAX_AGE_HOURS"],
                         privacy_url=_public_url(f"/privacy/{person.language}"))
    try:
        mail.send(message)
    except mail.MailError as error:
        log.warning("access mail not sent (%s)", error)


def own_page(session: Session, token: str) -> dict:
    """The person's own page: address, choices, pending sign-up and every event (R-01)."""
    session.rollback()  # a fresh snapshot: it is read right after a write of this request
    person, _ = _by_token(session, tokens.ACCESS, token)
    state = ledger.state(session, person.subject)
    from .models import ConsentEvent

    rows = session.execute(select(ConsentEvent.__table__)
                           .where(ConsentEvent.subject == person.subject)
                           .order_by(ConsentEvent.seq)).mappings().all()
    session.rollback()
    erased = person.email is None
    return {
        "email": person.email, "language": person.language, "erased": erased,
        "subject": person.subject,
        "choices": choices_of(state), "pending": json.loads(person.pending or "{}"),
        "events": [{"recorded_at": row["recorded_at"], "action": row["action"],
                    "choices": json.loads(row["choices"]), "source": row["source"],
                    "policy_version": row["policy_version"], "language": row["language"],
                    "text_hash": row["text_hash"], "event_id": row["event_id"],
                    "seq": row["seq"], "hash": row["hash"]} for row in rows],
    }


def change(session: Session, token: str, choices: dict, now: datetime) -> dict:
    """The person's page changes their choices: withdrawals at once; a new purpose is a grant
    (the link proves the address, so no second confirmation)."""
    person, _ = _by_token(session, tokens.ACCESS, token)
    session.rollback()
    state = ledger.state(session, person.subject)
    session.rollback()
    if person.email is None:
        raise LinkInvalid("This address has been erased.")
    before = choices_of(state)
    off = tuple(key for key in KEYS if before[key] and not choices.get(key))
    on = {key: True for key in KEYS if choices.get(key) and not before[key]}
    if off:
        withdraw(session, person.subject, off, "api", now)
    if on:
        version = policy.current(session).version
        text_hash = policy.text_hash(session, version, person.language)
        with ledger.writing(session) as writer:
            _grant(writer, by_subject(writer.conn, person.subject), on, version,
                   person.language, text_hash, "api", None, now)
    return own_page(session, token)


def erase(session: Session, token: str, now: datetime) -> None:
    """Erase the person: the address and personal fields go; the keyed hash stays in ledger and
    state, so the address stays suppressed and the proof stays valid (R-02)."""
    person, _ = _by_token(session, tokens.ACCESS, token)
    session.rollback()
    erase_subject(session, person.subject, now)


def erase_subject(session: Session, subject: str, now: datetime) -> None:
    """Erase one person subject (see erase)."""
    with ledger.writing(session) as writer:
        person = by_subject(writer.conn, subject)
        state = writer.state(subject)
        if person is None:
            raise NotFound("No such person.")
        if person.email is None and state is not None and state.action == ERASED:
            return
        version, language, text_hash = _notice_of(session, state, person)
        writer.erase_personal_fields(subject)
        writer.append(event(subject, action=ERASED, choices=no_choices(),
                            policy_version=version, language=language, text_hash=text_hash,
                            source="api"), now=now)
        marks = withdrawn_of(person)
        marks.update({key: marks.get(key, timestamp(now)) for key in KEYS})
        writer.conn.execute(update(PERSON).where(PERSON.c.subject == subject).values(
            email=None, signup_ip=None, consent_id=None, pending=None,
            pending_policy_version=None, confirm_nonce=None, mail_due=False,
            withdrawn=canonical(marks).decode()))
        writer.conn.execute(delete(CUSTOMER).where(CUSTOMER.c.subject == subject))


def rectify(session: Session, email: str, new_email: str, now: datetime) -> dict:
    """An admin corrects a person's address (R-04): same subject, so its history stays."""
    old, new = _address(email), _address(new_email, "new_email")
    with ledger.writing(session) as writer:
        person = by_hash(writer.conn, address_hash(old))
        if person is None or person.email is None:
            raise NotFound("No person with this address.")
        taken = by_hash(writer.conn, address_hash(new))
        if taken is not None and taken.subject != person.subject:
            raise Conflict("Another person has this address.")
        writer.conn.execute(update(PERSON).where(PERSON.c.subject == person.subject)
                            .values(email=new, address_hash=address_hash(new)))
        state = writer.state(person.subject)
        version, language, text_hash = _notice_of(session, state, person)
        writer.append(event(person.subject, action="update", choices=choices_of(state),
                            policy_version=version, language=language, text_hash=text_hash,
                            source="api", details={"rectified": True}), now=now)
    return {"email": new, "subject": person.subject}
