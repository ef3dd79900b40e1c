"""Device consents: record a choice, read it, list its events, erase it."""
import ipaddress
import json
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import ledger, policy, purposes
from .errors import Invalid, NotFound
from .models import ConsentEvent, ConsentState

ERASED = "erase"


def new_consent_id() -> str:
    """128 random bits, URL-safe (22 characters); never derived from the device."""
    return secrets.token_urlsafe(16)


def truncate_ip(address: str | None) -> str | None:
    """The network part only (L-04): IPv4 to /24, IPv6 to /48; None for anything else."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def _answer(event, max_age_days: int) -> dict:
    """The public shape of a consent, from an event or a state row."""
    recorded_at: datetime = event["recorded_at"]
    return {
        "consent_id": event["subject"], "choices": json.loads(event["choices"]),
        "policy_version": event["policy_version"], "language": event["language"],
        "action": event["action"], "recorded_at": recorded_at,
        "expires_at": recorded_at + timedelta(days=max_age_days),
        "event_id": event["event_id"], "hash": event["hash"],
        "seq": event["seq"], "text_hash": event["text_hash"],  # for the receipt; not shown
    }


def record(session: Session, *, choices: dict, policy_version: str, language: str,
           source: str, max_age_days: int, consent_id: str | None = None,
           event_id: str | None = None, gpc: bool = False, ip: str | None = None,
           user_agent: str | None = None) -> dict:
    """Record a device's choice: a grant for a new device, else an update or a withdrawal.

    The event names the notice version and the hash of its text in the language shown. An
    erased consent id is spent: a choice sent with it starts a new device. The same event_id
    twice (a retry) returns the first answer and appends nothing, if the retry is the same
    request (replayed).
    """
    full, errors = purposes.device_choices(choices)
    if errors:
        raise Invalid("Some choices are not valid.", {"choices": errors})
    text_hash = policy.text_hash(session, policy_version, language)
    previous = ledger.state(session, consent_id) if consent_id else None
    if previous is None or previous.subject_type != "device" or previous.action == ERASED:
        consent_id, previous = new_consent_id(), None
    ip, user_agent = truncate_ip(ip), user_agent[:512] if user_agent else None
    event = ledger.new_event(
        # A returning device's action is decided under the lock; a new id has no state to
        # decide from (and PostgreSQL then appends in one statement, see ledger.append_one).
        subject=consent_id, subject_type="device", action=None if previous else "grant",
        choices=full, policy_version=policy_version, language=language, text_hash=text_hash,
        source=source, gpc=gpc, ip=ip, user_agent=user_agent, event_id=event_id)
    try:
        event = ledger.append_one(session, event)
    except ledger.Spent:  # erased after we read its state (a DELETE won the race): start anew
        return record(session, choices=choices, policy_version=policy_version,
                      language=language, source=source, max_age_days=max_age_days,
                      event_id=event_id, gpc=gpc, ip=ip, user_agent=user_agent)
    except IntegrityError:
        # The same event_id again: a retry whose answer was lost is answered as the first time.
        done = ledger.event_by_id(session, event_id) if event_id else None
        if done is None or done.subject_type != "device":
            raise
        if not _replays(done._mapping, event, previous):
            raise Invalid("This event id was already used for another request.",
                          {"event_id": ["Already used for another request."]}) from None
        event = done._mapping
    return _answer(event, max_age_days)


REPLAYED = ("choices", "policy_version", "language", "source", "gpc")


def _replays(done, event: dict, previous) -> bool:
    """Whether a request is a replay of the one that recorded done (as Stripe treats a reused
    idempotency key): the same body, and the same device.

    The stored event is the first request's fingerprint: it keeps every field of its body.
    A request that named its consent id must name the event's; one that named none (a first
    visit whose answer was lost) can only prove it is the same device by the network and user
    agent the event kept, and after an erasure, which blanks them, it cannot.
    """
    if any(done[name] != event[name] for name in REPLAYED):
        return False
    if previous is not None:
        return done["subject"] == event["subject"]
    return (done["action"] == "grant" and done["ip"] is not None
            and (done["ip"], done["user_agent"]) == (event["ip"], event["user_agent"]))


def current(session: Session, consent_id: str, max_age_days: int) -> dict:
    """A device's current consent; NotFound when the id is unknown."""
    state = session.execute(select(ConsentState.__table__)
                            .where(ConsentState.subject == consent_id,
                                   ConsentState.subject_type == "device")).first()
    if state is None:
        raise NotFound("No consent with this id.")
    answer = _answer(state._mapping, max_age_days)
    answer["erased"] = state.action == ERASED
    answer["outdated"] = policy.is_outdated(session, state.policy_version)
    return answer


def events(session: Session, consent_id: str) -> list[dict]:
    """Every event of a device, oldest first (access and portability)."""
    current_state = session.get(ConsentState, consent_id)
    if current_state is None or current_state.subject_type != "device":
        raise NotFound("No consent with this id.")
    rows = session.execute(select(ConsentEvent.__table__)
                           .where(ConsentEvent.subject == consent_id)
                           .order_by(ConsentEvent.seq)).mappings()
    return [{**row, "choices": json.loads(row["choices"])} for row in rows]


def erase(session: Session, consent_id: str, max_age_days: int) -> dict:
    """Withdraw every optional purpose and erase the device's IP and user agent everywhere."""
    with ledger.writing(session) as writer:
        state = writer.state(consent_id)
        if state is None or state.subject_type != "device":
            raise NotFound("No consent with this id.")
        if state.action != ERASED:
            writer.erase_personal_fields(consent_id)
            writer.append(ledger.new_event(
                subject=consent_id, subject_type="device", action=ERASED,
                choices=purposes.refused(), policy_version=state.policy_version,
                language=state.language, text_hash=state.text_hash, source="api"))
    return current(session, consent_id, max_age_days)


def purge_expired(session: Session, max_age_days: int, now: datetime, batch: int = 500) -> int:
    """End every device consent older than max_age_days with an expire event; returns how many."""
    cutoff = now - timedelta(days=max_age_days)
    total = 0
    while True:
        with ledger.writing(session) as writer:
            stale = writer.conn.execute(
                select(ConsentState.__table__)
                .where(ConsentState.subject_type == "device",
                       ConsentState.recorded_at < cutoff,
                       ConsentState.action.not_in(("expire", ERASED)))
                .limit(batch)).all()
            for state in stale:
                writer.append(ledger.new_event(
                    subject=state.subject, subject_type="device", action="expire",
                    choices=purposes.refused(), policy_version=state.policy_version,
                    language=state.language, text_hash=state.text_hash, source="system"),
                    now=now)
        total += len(stale)
        if len(stale) < batch:
            return total


ENDED = ("expire", "withdraw")


def erase_ended(session: Session, retention_days: int, max_age_days: int, now: datetime,
                batch: int = 500) -> int:
    """Retention (L-05): erase the personal fields (IP, user agent) of every device whose
    consent ended more than retention_days ago (expired or withdrawn then, or never renewed
    and so over its max age then), with an erase event by the system, as a DELETE would; the
    hashed ledger stays. Returns how many. Run before purge_expired, whose expire events
    would restart the clock."""
    cutoff = now - timedelta(days=retention_days)
    lapsed = cutoff - timedelta(days=max_age_days)
    total = 0
    while True:
        with ledger.writing(session) as writer:
            ended = writer.conn.execute(
                select(ConsentState.__table__)
                .where(ConsentState.subject_type == "device",
                       ((ConsentState.action.in_(ENDED) & (ConsentState.recorded_at < cutoff))
                        | ((ConsentState.action != ERASED)
                           & (ConsentState.recorded_at < lapsed))))
                .limit(batch)).all()
            for state in ended:
                writer.erase_personal_fields(state.subject)
                writer.append(ledger.new_event(
                    subject=state.subject, subject_type="device", action=ERASED,
                    choices=purposes.refused(), policy_version=state.policy_version,
                    language=state.language, text_hash=state.text_hash, source="system"),
                    now=now)
        total += len(ended)
        if len(ended) < batch:
            return total
