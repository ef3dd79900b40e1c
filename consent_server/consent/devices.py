"""Device consents: record a choice, read it, list its events, erase it, expire it."""
import json
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import ledger
from ..errors import Invalid, NotFound
from ..http.network import truncate_ip
from ..models import EVENTS, STATE
from ..vocabulary import DEFAULT_SITE, Action, Source, SubjectType
from . import notices, purposes

DEVICE = SubjectType.DEVICE


def new_consent_id() -> str:
    """128 random bits, URL-safe (22 characters); never derived from the device. Never one
    that starts with `-` (1 in 64 would): a spreadsheet takes such a cell for a formula, and
    the audit CSV would have to change it (csvfiles.safe). Drawn again instead, which leaves
    127.98 bits."""
    while (consent_id := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return consent_id


def _answer(event, max_age_days: int) -> dict:
    """The public shape of a consent, from an event or a state row."""
    recorded_at: datetime = event["recorded_at"]
    return {
        "consent_id": event["subject"], "choices": json.loads(event["choices"]),
        "policy_version": event["policy_version"], "language": event["language"],
        "action": event["action"], "recorded_at": recorded_at,
        "expires_at": recorded_at + timedelta(days=max_age_days),
        "event_id": event["event_id"], "hash": event["hash"],
        "site": event["site"],
        "seq": event["seq"], "text_hash": event["text_hash"],  # for the receipt; not shown
    }


def record(session: Session, *, choices: dict, policy_version: str, language: str,
           source: str, max_age_days: int, consent_id: str | None = None,
           event_id: str | None = None, gpc: bool = False, ip: str | None = None,
           user_agent: str | None = None, site: str = DEFAULT_SITE) -> dict:
    """Record a device's choice: a grant for a new device, else an update or a withdrawal.

    The event names its site, the site's notice version and the hash of its text in the
    language shown (a version of another site is Invalid). An
    erased consent id is spent: a choice sent with it starts a new device. The same event_id
    twice (a retry) returns the first answer and appends nothing, if the retry is the same
    request (replayed).
    """
    full, errors = purposes.device_choices(choices)
    if errors:
        raise Invalid("Some choices are not valid.", {"choices": errors})
    text_hash = notices.text_hash(session, policy_version, language, site)
    previous = ledger.state(session, consent_id) if consent_id else None
    if previous is None or previous.subject_type != DEVICE or previous.action == Action.ERASE:
        consent_id, previous = new_consent_id(), None
    ip, user_agent = truncate_ip(ip), user_agent[:512] if user_agent else None
    event = ledger.new_event(
        # A returning device's action is decided under the lock; a new id has no state to
        # decide from (and PostgreSQL then appends in one statement, ledger/postgres.py).
        subject=consent_id, subject_type=DEVICE, action=None if previous else Action.GRANT,
        choices=full, policy_version=policy_version, language=language, text_hash=text_hash,
        source=source, gpc=gpc, ip=ip, user_agent=user_agent, event_id=event_id, site=site)
    try:
        event = ledger.append(session, event)
    except ledger.Spent:  # erased after we read its state (a DELETE won the race): start anew
        return record(session, choices=choices, policy_version=policy_version,
                      language=language, source=source, max_age_days=max_age_days,
                      event_id=event_id, gpc=gpc, ip=ip, user_agent=user_agent, site=site)
    except IntegrityError:
        # The same event_id again: a retry whose answer was lost is answered as the first time.
        done = ledger.event_by_id(session, event_id) if event_id else None
        if done is None or done.subject_type != DEVICE:
            raise
        if not _replays(done._mapping, event, previous):
            raise Invalid("This event id was already used for another request.",
                          {"event_id": ["Already used for another request."]}) from None
        event = done._mapping
    return _answer(event, max_age_days)


REPLAYED = ("choices", "policy_version", "language", "source", "gpc", "site")


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
    return (done["action"] == Action.GRANT and done["ip"] is not None
            and (done["ip"], done["user_agent"]) == (event["ip"], event["user_agent"]))


def current(session: Session, consent_id: str, max_age_days: int) -> dict:
    """A device's current consent; NotFound when the id is unknown."""
    state = ledger.state(session, consent_id)
    if state is None or state.subject_type != DEVICE:
        raise NotFound("No consent with this id.")
    return _current(session, state._mapping, max_age_days)


def _current(session: Session, state, max_age_days: int) -> dict:
    """The answer for a device's state (or its last event), erased and outdated told."""
    answer = _answer(state, max_age_days)
    answer["erased"] = state["action"] == Action.ERASE
    answer["outdated"] = notices.is_outdated(session, state["policy_version"])
    return answer


def events(session: Session, consent_id: str) -> list[dict]:
    """Every event of a device, oldest first (access and portability)."""
    state = ledger.state(session, consent_id)
    if state is None or state.subject_type != DEVICE:
        raise NotFound("No consent with this id.")
    rows = session.execute(select(EVENTS).where(EVENTS.c.subject == consent_id)
                           .order_by(EVENTS.c.seq)).mappings()
    return [{**row, "choices": json.loads(row["choices"])} for row in rows]


def erase(session: Session, consent_id: str, max_age_days: int) -> dict:
    """Withdraw every optional purpose and erase the device's IP and user agent everywhere."""
    with ledger.locked(session) as writer:
        state = writer.state(consent_id)
        if state is None or state.subject_type != DEVICE:
            raise NotFound("No consent with this id.")
        if state.action != Action.ERASE:
            writer.erase_personal_fields(consent_id)
            writer.append(_ended(state, Action.ERASE, Source.API))
            state = writer.state(consent_id)
    return _current(session, state._mapping, max_age_days)


def _ended(state, action: Action, source: Source) -> dict:
    """The event that ends a device's consent (expired or erased): every optional purpose off,
    under the notice of its last choice."""
    return ledger.new_event(subject=state.subject, subject_type=DEVICE, action=action,
                            choices=purposes.refused(), policy_version=state.policy_version,
                            language=state.language, text_hash=state.text_hash, source=source,
                            site=state.site)


def purge_expired(session: Session, max_age_days: int, now: datetime, batch: int = 500) -> int:
    """End every device consent older than max_age_days with an expire event; returns how many."""
    cutoff = now - timedelta(days=max_age_days)
    total = 0
    while True:
        with ledger.locked(session) as writer:
            stale = writer.conn.execute(
                select(STATE).where(STATE.c.subject_type == DEVICE, STATE.c.recorded_at < cutoff,
                                    STATE.c.action.not_in((Action.EXPIRE, Action.ERASE)))
                .limit(batch)).all()
            for state in stale:
                writer.append(_ended(state, Action.EXPIRE, Source.SYSTEM), now=now)
        total += len(stale)
        if len(stale) < batch:
            return total


ENDED = (Action.EXPIRE, Action.WITHDRAW)


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
        with ledger.locked(session) as writer:
            ended = writer.conn.execute(
                select(STATE).where(
                    STATE.c.subject_type == DEVICE,
                    (STATE.c.action.in_(ENDED) & (STATE.c.recorded_at < cutoff))
                    | ((STATE.c.action != Action.ERASE) & (STATE.c.recorded_at < lapsed)))
                .limit(batch)).all()
            for state in ended:
                writer.erase_personal_fields(state.subject)
                writer.append(_ended(state, Action.ERASE, Source.SYSTEM), now=now)
        total += len(ended)
        if len(ended) < batch:
            return total
