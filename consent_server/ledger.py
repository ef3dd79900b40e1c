"""The append-only consent ledger: events in a SHA-256 hash chain, the current state beside it.

Writers queue on the one chain-head row (SQLite: a file lock and BEGIN IMMEDIATE; PostgreSQL: the
row lock of SELECT ... FOR UPDATE, or of the UPDATE that moves it in append_one), so appends from
any number of processes form one chain with no gaps or forks.
"""
import json
import secrets
import sqlite3
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from . import purposes, reading
from .chain import GENESIS, VERSION, canonical, digest, event_hash, hash_parts, json_text
from .models import ChainHead, ConsentEvent, ConsentState, utcnow
from .storage import IMMEDIATE, release_writer, sqlite_writing

__all__ = ["GENESIS", "canonical", "digest", "event_hash", "hash_parts", "new_event",
           "append_one", "writing", "Writer", "Spent", "state", "event_by_id", "verify",
           "rebuild_state"]
NO_HEAD = "the ledger has no head row: run `flask consent init-db`"
EVENTS = ConsentEvent.__table__
STATE = ConsentState.__table__
# The hashed form is chain.py's; this module only stores and reads it.
STATE_FIELDS = ("subject_type", "action", "choices", "policy_version", "language", "text_hash",
                "source", "gpc", "ip", "user_agent", "recorded_at", "event_id", "seq", "hash")
# Where a writer learns the state under the chain lock (action=None: decided there).
STATE_UNDER_LOCK = {
    "sqlite": "SELECT choices, action FROM consent_state WHERE subject = :subject",
    "postgresql": "SELECT choices, action FROM consent_state WHERE subject = %(subject)s"}


class Spent(Exception):
    """The subject was erased before its event could be chained (an erased id is spent)."""


HEAD = ChainHead.__table__
# Built once: the write path runs them on every consent, under the chain lock.
LOCK_HEAD = select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()


def _append_in_one_statement():
    """PostgreSQL: move the head, insert the event and upsert the state in one statement.

    The UPDATE of the head row takes the chain lock and computes the event's hash in the server
    from the parts of hash_parts; data-modifying CTEs always run to completion. Autocommitted,
    the lock is held for no client round trip at all.
    """
    from sqlalchemy import LargeBinary, Text, cast, func, literal_column
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    def part(name):  # UTF-8 bytes from the app, so the server's encoding does not matter
        return bindparam(name, type_=LargeBinary)

    def ascii_bytes(value):
        return func.convert_to(value, literal_column("'UTF8'"))

    chained = (part("pre").op("||")(ascii_bytes(HEAD.c.hash)).op("||")(part("mid"))
               .op("||")(ascii_bytes(cast(HEAD.c.seq + 1, Text))).op("||")(part("post")))
    new_hash = func.encode(func.sha256(chained), literal_column("'hex'"))
    head = (update(HEAD).where(HEAD.c.id == 1)
            .values(seq=HEAD.c.seq + 1, prev_hash=HEAD.c.hash, hash=new_hash)
            .returning(HEAD.c.seq, HEAD.c.prev_hash, HEAD.c.hash).cte("head"))
    values = {c.name: bindparam(c.name, type_=c.type) for c in EVENTS.columns}
    values.update(seq=head.c.seq, prev_hash=head.c.prev_hash, hash=head.c.hash)
    event = insert(EVENTS).from_select(list(values), select(*values.values())).cte("new_event")
    state_values = {"subject": values["subject"], "first_at": values["recorded_at"],
                    **{key: values[key] for key in STATE_FIELDS}}
    state = pg_insert(STATE).from_select(list(state_values), select(*state_values.values()))
    state = state.on_conflict_do_update(index_elements=[STATE.c.subject],
                                        set_={key: state.excluded[key] for key in STATE_FIELDS})
    return (select(head.c.seq, head.c.prev_hash, head.c.hash)
            .add_cte(event).add_cte(state.cte("new_state")))


def _plain_pg():
    """That statement as plain SQL for psycopg, with the constants its compiler bound."""
    from sqlalchemy.dialects.postgresql import psycopg as dialect

    compiled = _append_in_one_statement().compile(dialect=dialect.dialect())
    return str(compiled), {k: v for k, v in compiled.params.items() if v is not None}


PG_APPEND_SQL, PG_APPEND_CONSTANTS = _plain_pg()
PG_LOCK_HEAD = f"SELECT 1 FROM {HEAD.name} WHERE id = 1 FOR UPDATE"


def _sqlite_statements():
    """SQLite: the append as plain SQL for the sqlite3 connection, and SQLAlchemy's own storage
    form of a time (so rows written either way read back alike)."""
    from sqlalchemy.dialects.sqlite import pysqlite

    names = [c.name for c in EVENTS.columns]
    insert_event = (f"INSERT INTO {EVENTS.name} ({', '.join(names)}) "
                    f"VALUES ({', '.join(':' + n for n in names)})")
    state = ["subject", "first_at", *STATE_FIELDS]
    upsert_state = (f"INSERT INTO {STATE.name} ({', '.join(state)}) "
                    f"VALUES ({', '.join(':' + ('recorded_at' if n == 'first_at' else n) for n in state)}) "
                    f"ON CONFLICT (subject) DO UPDATE SET "
                    + ", ".join(f"{n} = excluded.{n}" for n in STATE_FIELDS))
    move_head = f"UPDATE {HEAD.name} SET seq = :seq, hash = :hash WHERE id = 1"
    read_head = f"SELECT seq, hash FROM {HEAD.name} WHERE id = 1"
    time = EVENTS.c.recorded_at.type.bind_processor(pysqlite.dialect())
    return insert_event, upsert_state, move_head, read_head, time


SQLITE_INSERT, SQLITE_UPSERT_STATE, SQLITE_MOVE_HEAD, SQLITE_READ_HEAD, SQLITE_TIME = (
    _sqlite_statements())
EVENT_BY_ID = select(EVENTS).where(EVENTS.c.event_id == bindparam("event_id"))
STATE_BY_SUBJECT = select(STATE).where(STATE.c.subject == bindparam("subject"))


def new_event(*, subject: str, subject_type: str, choices: dict, policy_version: str,
              language: str, text_hash: str | None, source: str, action: str | None = None,
              gpc: bool = False, ip: str | None = None, user_agent: str | None = None,
              event_id: str | None = None, basis: str | None = None,
              details: dict | None = None) -> dict:
    """An event's fields but its place in the chain (seq, time, prev_hash, hash).

    Built before the chain is locked, so that the lock is held as briefly as possible. With
    action=None the writer decides grant, update or withdraw from the subject's state as it is
    under the lock (see decide_action), and Spent is raised if the subject was erased by then;
    any other action is kept as given. basis is a person's
    legal basis for marketing (None, "consent" or "customer"); details a small JSON object
    without personal data (e.g. a customer's sale date).
    """
    salt = secrets.token_hex(8) if ip is not None or user_agent is not None else None
    return {
        "v": VERSION, "event_id": event_id or str(uuid.uuid4()), "subject_type": subject_type,
        "subject": subject, "action": action, "choices": canonical(choices).decode(),
        "policy_version": policy_version, "language": language, "text_hash": text_hash,
        "source": source, "gpc": bool(gpc), "ip": ip, "user_agent": user_agent,
        "pii_salt": salt, "ip_digest": digest(salt, ip), "ua_digest": digest(salt, user_agent),
        "basis": basis, "details": json_text(details),
    }


def decide_action(previous_choices: str | None, choices: str) -> str:
    """grant for a subject without state; withdraw when its last optional purpose goes; else
    update. Both arguments are the ledger's JSON text of choices."""
    if previous_choices is None:
        return "grant"

    def optional_on(text):
        return any(on for key, on in json.loads(text).items()
                   if key not in purposes.BY_KEY or not purposes.BY_KEY[key].required)

    return "withdraw" if optional_on(previous_choices) and not optional_on(choices) else "update"


def event_by_id(session: Session, event_id: str):
    """An already recorded event by its id, or None."""
    return session.execute(EVENT_BY_ID, {"event_id": event_id}).first()


def state(session: Session, subject: str):
    """A subject's current state, or None."""
    return session.execute(STATE_BY_SUBJECT, {"subject": subject}).first()


@dataclass
class Writer:
    """The ledger while its head is locked: append events."""

    conn: Connection | sqlite3.Connection | psycopg.Connection  # the driver's: append_one
    seq: int
    hash: str
    moved: bool = True  # whether the stored head already names the last appended event

    def append(self, event: dict, now=None) -> dict:
        """Chain an event from new_event and move its subject's state to it; returns it.

        The same plain SQL on a driver's connection (append_one) or through SQLAlchemy's.
        """
        if isinstance(self.conn, Connection):
            run, pg = self.conn.exec_driver_sql, self.conn.dialect.name == "postgresql"
        else:
            run, pg = self.conn.execute, isinstance(self.conn, psycopg.Connection)
        if event["action"] is None:  # decided here, under the lock (two tabs at once stay apart)
            sql = STATE_UNDER_LOCK["postgresql" if pg else "sqlite"]
            previous = run(sql, {"subject": event["subject"]}).fetchone()
            if previous and previous[1] == "erase":  # erased since the caller looked
                raise Spent(event["subject"])
            event = {**event, "action": decide_action(previous[0] if previous else None,
                                                      event["choices"])}
        if pg:
            event = {**event, "recorded_at": now or utcnow()}
            pre, mid, post = (part.encode() for part in hash_parts(event))
            head = run(PG_APPEND_SQL, {**PG_APPEND_CONSTANTS, **event,
                                       "pre": pre, "mid": mid, "post": post}).fetchone()
            if head is None:
                raise RuntimeError(NO_HEAD)
            self.seq, event["prev_hash"], self.hash = head
            event.update(seq=self.seq, hash=self.hash)
            self.moved = True  # the statement moved the head too
            return event
        event = {**event, "seq": self.seq + 1, "recorded_at": now or utcnow(),
                 "prev_hash": self.hash}
        event["hash"] = event_hash(event)
        self.seq, self.hash = event["seq"], event["hash"]
        self.moved = False
        row = {**event, "recorded_at": SQLITE_TIME(event["recorded_at"])}
        run(SQLITE_INSERT, row)
        run(SQLITE_UPSERT_STATE, row)
        return event

    def state(self, subject: str):
        """A subject's current state, read under the lock."""
        return self.conn.execute(STATE_BY_SUBJECT, {"subject": subject}).first()

    def erase_personal_fields(self, subject: str) -> None:
        """Blank IP and user agent in every event of a subject and delete the salts of their
        digests (the one edit the ledger allows, R-02): the digests stay, so the chain verifies,
        and without the salt nobody can test candidate addresses against them.

        A version 1 event hashed its salt, so it keeps it (see README, "Format versions").
        """
        self.conn.execute(update(EVENTS).where(EVENTS.c.subject == subject)
                          .values(ip=None, user_agent=None))
        self.conn.execute(update(EVENTS).where(EVENTS.c.subject == subject, EVENTS.c.v >= 2)
                          .values(pii_salt=None))


def _own(session) -> Session:
    """The session itself, with any transaction it had open ended (so later reads see writes)."""
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        session.commit()
    return session


def append_one(session: Session, event: dict) -> dict:
    """Append one event from new_event in a transaction of its own; returns it chained.

    On PostgreSQL that is one autocommitted statement: the server locks the head, writes and
    commits, and no client round trip falls inside the lock. On SQLite it is four plain
    statements under the writer lock (see storage.sqlite_writing). Both run straight on the
    driver's connection: SQLAlchemy's work per statement was a tenth of a consent's CPU.
    """
    session = _own(session)
    driver = session.get_bind().dialect.driver
    if driver not in ("psycopg", "pysqlite"):
        with writing(session) as writer:
            return writer.append(event)
    with session.get_bind().connect() as conn:
        if driver == "psycopg":
            return _append_psycopg(conn, event)
        try:
            with sqlite_writing(conn) as raw:
                head = raw.execute(SQLITE_READ_HEAD).fetchone()
                if head is None:
                    raise RuntimeError(NO_HEAD)
                writer = Writer(raw, *head)
                event = writer.append(event)
                raw.execute(SQLITE_MOVE_HEAD, {"seq": writer.seq, "hash": writer.hash})
                return event
        except sqlite3.IntegrityError as error:  # as SQLAlchemy would raise it
            raise IntegrityError(SQLITE_INSERT, None, error) from error


def _append_psycopg(conn: Connection, event: dict) -> dict:
    """The one statement, autocommitted on the psycopg connection; the connection goes back to
    the pool as it came (not autocommitting), or is thrown away when it cannot be reset."""
    raw = conn.connection.dbapi_connection
    raw.autocommit = True
    try:
        if event["action"] is not None:
            return Writer(raw, seq=0, hash=GENESIS).append(event)
        # The action depends on the state: lock the head first, read the state, then append
        # (three round trips inside the lock instead of none, only for decided actions).
        with raw.transaction():
            raw.execute(PG_LOCK_HEAD)
            return Writer(raw, seq=0, hash=GENESIS).append(event)
    except psycopg.IntegrityError as error:  # as SQLAlchemy would raise it
        raise IntegrityError(PG_APPEND_SQL, None, error) from error
    finally:
        if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            raw.autocommit = False
        else:  # broken or busy: never hand an autocommitting connection to writing()
            conn.invalidate()


@contextmanager
def writing(session: Session):
    """Lock the chain head for one transaction; commit on success, roll back on any error.

    Writes go through a connection of their own, beside the session (less machinery on the hot
    path); any transaction the session had open is ended first, so later reads see the write.
    """
    session = _own(session)
    with session.get_bind().connect() as conn:
        conn.execution_options(**{IMMEDIATE: True})
        info = conn.info
        try:
            with conn.begin():
                head = conn.execute(LOCK_HEAD).first()
                if head is None:
                    raise RuntimeError(NO_HEAD)
                writer = Writer(conn, head.seq, head.hash)
                yield writer
                if not writer.moved:
                    conn.exec_driver_sql(SQLITE_MOVE_HEAD, {"seq": writer.seq, "hash": writer.hash})
        finally:
            release_writer(info)


@dataclass
class Verification:
    """What verify found: the chain, and whether the state table is its projection."""

    ok: bool
    events: int
    head: str
    head_seq: int
    first_bad_seq: int | None = None
    reason: str | None = None
    state_ok: bool = True
    bad_subjects: list[str] = field(default_factory=list)  # the first few, when state_ok is False

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "head": self.head,
                "head_seq": self.head_seq, "first_bad_seq": self.first_bad_seq,
                "reason": self.reason, "state_ok": self.state_ok,
                "bad_subjects": self.bad_subjects}


def verify(session: Session, state: bool = True) -> Verification:
    """Walk the chain in sequence order; name the first sequence number that does not hold.
    Then (state=True) check that the state table is the ledger's projection.

    The head and the events are read in one snapshot (REPEATABLE READ on PostgreSQL; one read
    transaction on SQLite), so appends while it runs are not taken for a broken tail.
    """
    with _own(session).get_bind().connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            result = _verify(conn)
            if state:
                result.bad_subjects = _state_mismatches(conn)
                result.state_ok = not result.bad_subjects
                if result.ok and not result.state_ok:
                    result.ok = False
                    result.reason = "the state table is not the ledger's projection"
            return result


def _verify(session) -> Verification:
    head = session.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)

    def bad(seq, reason, events):
        return Verification(False, events, head_hash, head_seq, seq, reason)

    expected, prev, count = 1, GENESIS, 0
    blanked: dict[str, int] = {}  # subject -> first event whose personal fields were blanked
    last_erase: dict[str, int] = {}
    names = reading.NAMES
    fast = select(*reading.columns(session.dialect.name)).order_by(EVENTS.c.seq)
    with closing(session.execute(fast, execution_options={"yield_per": 5000})) as result:
        for values in result:
            row = dict(zip(names, values))
            found = _check(row, expected, prev, blanked, last_erase)
            if found:
                return bad(*found, count)
            prev, expected, count = row["hash"], expected + 1, count + 1
    if count != head_seq or prev != head_hash:
        first = min(count, head_seq) + 1 if count != head_seq else head_seq
        return bad(first, "the chain does not end at the recorded head", count)
    unerased = [seq for subject, seq in blanked.items() if last_erase.get(subject, 0) < seq]
    if unerased:
        return bad(min(unerased), "personal fields blanked without an erase event", count)
    return Verification(True, count, head_hash, head_seq)


def _stream(db, query=None):
    """Every event in sequence order, streamed (server-side cursor on PostgreSQL)."""
    return db.execute(query if query is not None else select(EVENTS).order_by(EVENTS.c.seq),
                      execution_options={"yield_per": 2000}).mappings()


def _check(row, expected: int, prev: str, blanked: dict, last_erase: dict):
    """(seq, reason) when this event breaks the chain, else None; notes erasures."""
    seq = row["seq"]
    if seq != expected:
        return expected, f"event {expected} is missing"
    if row["prev_hash"] != prev:
        return seq, "prev_hash does not match the previous event"
    salt = row["pii_salt"]
    for name, digest_field in (("ip", "ip_digest"), ("user_agent", "ua_digest")):
        value, stored = row[name], row[digest_field]
        if value is not None and (salt is None or digest(salt, value) != stored):
            return seq, f"{name} does not match its digest"
        if value is None and stored is not None:
            blanked.setdefault(row["subject"], seq)
    if salt is None and (row["ip_digest"] or row["ua_digest"]):
        blanked.setdefault(row["subject"], seq)
    if (row["v"] or 1) == 1 and (row["basis"] is not None or row["details"] is not None):
        return seq, "a version 1 event cannot have basis or details (they would be unhashed)"
    if event_hash(row) != row["hash"]:
        return seq, "hash does not match the event"
    if row["action"] == "erase":
        last_erase[row["subject"]] = seq
    return None


def _state_mismatches(conn, limit: int = 10) -> list[str]:
    """Subjects whose state row is not what the ledger says (edited, deleted, invented, stale).

    Two queries instead of a replay in memory: each state row against the event it names, and
    each subject's last event and first time against its state row.
    """
    bad: list[str] = []
    joined = (select(STATE, *[EVENTS.c[key].label(f"e_{key}") for key in ("subject", *STATE_FIELDS)])
              .select_from(STATE.outerjoin(EVENTS, EVENTS.c.seq == STATE.c.seq))
              .order_by(STATE.c.subject))
    with closing(_stream(conn, joined)) as rows:
        for row in rows:
            if row["e_subject"] != row["subject"] or any(
                    row[key] != row[f"e_{key}"] for key in STATE_FIELDS):
                bad.append(row["subject"])
                if len(bad) >= limit:
                    return bad
    per_subject = (select(EVENTS.c.subject, func.max(EVENTS.c.seq).label("last"),
                          func.min(EVENTS.c.recorded_at).label("first"))
                   .group_by(EVENTS.c.subject).subquery())
    missing = (select(per_subject.c.subject)
               .select_from(per_subject.outerjoin(STATE, STATE.c.subject == per_subject.c.subject))
               .where(or_(STATE.c.subject.is_(None), STATE.c.seq != per_subject.c.last,
                          STATE.c.first_at != per_subject.c.first))
               .order_by(per_subject.c.subject).limit(limit - len(bad)))
    bad += [subject for subject, in conn.execute(missing) if subject not in bad]
    return bad[:limit]


def rebuild_state(session: Session) -> int:
    """Rebuild the current-state table from the ledger alone; returns the number of subjects."""
    with writing(session) as writer:
        states: dict[str, dict] = {}
        with closing(_stream(writer.conn)) as rows:
            for row in rows:
                first = states.get(row["subject"], {}).get("first_at", row["recorded_at"])
                states[row["subject"]] = {"subject": row["subject"], "first_at": first,
                                          **{key: row[key] for key in STATE_FIELDS}}
        writer.conn.execute(delete(STATE))
        if states:
            writer.conn.execute(insert(STATE), list(states.values()))
    return len(states)
