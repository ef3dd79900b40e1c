"""Events before and after they are chained: new_event, the action decided under the lock, the
Writer both backends share, and the reads of one event or one subject's state."""
import json
import secrets
import uuid
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from ..models import EVENTS, STATE
from ..vocabulary import DEFAULT_SITE, REQUIRED, Action
from .chain import VERSION, canonical, digest, json_text

NO_HEAD = "the ledger has no head row: run `flask consent init-db`"
# Set on a unit of work that erased personal fields: its backend cleans up after the commit.
ERASED = "consent_erased"
EVENT_BY_ID = select(EVENTS).where(EVENTS.c.event_id == bindparam("event_id"))
STATE_BY_SUBJECT = select(STATE).where(STATE.c.subject == bindparam("subject"))


class Spent(Exception):
    """The subject was erased before its event could be chained (an erased id is spent)."""


def new_event(*, subject: str, subject_type: str, choices: dict, policy_version: str,
              language: str, text_hash: str | None, source: str, action: str | None = None,
              gpc: bool = False, ip: str | None = None, user_agent: str | None = None,
              event_id: str | None = None, basis: str | None = None,
              details: dict | None = None, site: str = DEFAULT_SITE) -> dict:
    """An event's fields but its place in the chain (seq, time, prev_hash, hash).

    Built before the chain is locked, so that the lock is held as briefly as possible. With
    action=None the writer decides grant, update or withdraw from the subject's state as it is
    under the lock (decide_action), and raises Spent if the subject was erased by then; any
    other action is kept as given. basis is a person's legal basis for marketing (None,
    "consent" or "customer"); details a small JSON object without personal data (e.g. a
    customer's sale date); site the id of the site it is recorded for (ledger v3).
    """
    salt = secrets.token_hex(8) if ip is not None or user_agent is not None else None
    return {
        "v": VERSION, "event_id": event_id or str(uuid.uuid4()), "subject_type": subject_type,
        "subject": subject, "action": action, "choices": canonical(choices).decode(),
        "policy_version": policy_version, "language": language, "text_hash": text_hash,
        "source": source, "gpc": bool(gpc), "ip": ip, "user_agent": user_agent,
        "pii_salt": salt, "ip_digest": digest(salt, ip), "ua_digest": digest(salt, user_agent),
        "basis": basis, "details": json_text(details), "site": site,
    }


def decide_action(previous_choices: str | None, choices: str) -> Action:
    """grant for a subject without state; withdraw when its last optional purpose goes; else
    update. Both arguments are the ledger's JSON text of choices."""
    if previous_choices is None:
        return Action.GRANT

    def optional_on(text):
        return any(on for key, on in json.loads(text).items() if key not in REQUIRED)

    if optional_on(previous_choices) and not optional_on(choices):
        return Action.WITHDRAW
    return Action.UPDATE


def decided(event: dict, previous) -> dict:
    """An event of action None with its action decided from the subject's state under the lock
    (previous: (choices, action) or None); Spent when the subject was erased since the caller
    looked."""
    if previous is not None and previous[1] == Action.ERASE:
        raise Spent(event["subject"])
    return {**event, "action": decide_action(previous[0] if previous else None,
                                             event["choices"])}


class Writer:
    """The ledger while its head is locked, in one transaction: append events, read and change
    what goes with them. `conn` is that transaction's connection, for the other tables a unit
    of work writes with its events (people, customers)."""

    def __init__(self, conn: Connection, seq: int, hash: str):
        self.conn, self.seq, self.hash = conn, seq, hash

    def append(self, event: dict, now: datetime | None = None) -> dict:
        """Chain an event from new_event and move its subject's state to it; returns it."""
        raise NotImplementedError

    def state(self, subject: str):
        """A subject's current state, read under the lock."""
        return self.conn.execute(STATE_BY_SUBJECT, {"subject": subject}).first()

    def erase_personal_fields(self, subject: str) -> None:
        """Blank IP and user agent in every event of a subject and delete the salts of their
        digests (the one edit the ledger allows, R-02): the digests stay, so the chain verifies,
        and without the salt nobody can test candidate values against them.

        A version 1 event hashed its salt, so it keeps it (see README, "Format versions").
        """
        self.conn.info[ERASED] = True  # the backend cleans up once the transaction has ended
        self.conn.execute(update(EVENTS).where(EVENTS.c.subject == subject)
                          .values(ip=None, user_agent=None))
        self.conn.execute(update(EVENTS).where(EVENTS.c.subject == subject, EVENTS.c.v >= 2)
                          .values(pii_salt=None))


def event_by_id(session: Session, event_id: str):
    """An already recorded event by its id, or None."""
    return session.execute(EVENT_BY_ID, {"event_id": event_id}).first()


def state(session: Session, subject: str):
    """A subject's current state, or None."""
    return session.execute(STATE_BY_SUBJECT, {"subject": subject}).first()
