"""The append-only consent ledger: events in a SHA-256 hash chain, the current state beside it.

Writers queue on the one chain-head row (SQLite: a file lock and BEGIN IMMEDIATE; PostgreSQL: the
row lock of SELECT ... FOR UPDATE, or of the UPDATE that moves it in append_one), so appends from
any number of processes form one chain with no gaps or forks.
"""
import hashlib
import json
import secrets
import sqlite3
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from .models import ChainHead, ConsentEvent, ConsentState, utcnow
from .storage import IMMEDIATE, release_writer, sqlite_writing

GENESIS = "0" * 64
NO_HEAD = "the ledger has no head row: run `flask consent init-db`"
EVENTS = ConsentEvent.__table__
STATE = ConsentState.__table__
# Every column that the hash covers. ip and user_agent enter only through their salted digests,
# so erasing them keeps the chain verifiable.
HASHED = ("seq", "event_id", "recorded_at", "subject_type", "subject", "action", "choices",
          "policy_version", "language", "text_hash", "source", "gpc", "pii_salt", "ip_digest",
          "ua_digest", "prev_hash")
STATE_FIELDS = ("subject_type", "action", "choices", "policy_version", "language", "text_hash",
                "source", "gpc", "ip", "user_agent", "recorded_at", "event_id", "seq", "hash")


def canonical(value) -> bytes:
    """The canonical JSON form: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def timestamp(moment: datetime) -> str:
    """A UTC instant as the ledger hashes it: ISO 8601 to the microsecond, with Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(salt: str, value: str | None) -> str | None:
    """The salted SHA-256 of a personal field, or None when there is no value."""
    if value is None:
        return None
    return hashlib.sha256(f"{salt}\x1f{value}".encode()).hexdigest()


def event_hash(event) -> str:
    """SHA-256 over the canonical JSON of an event's hashed fields."""
    fields = {key: event[key] for key in HASHED}
    fields["recorded_at"] = timestamp(fields["recorded_at"])
    return hashlib.sha256(canonical(fields)).hexdigest()


HEAD = ChainHead.__table__
# Built once: the write path runs them on every consent, under the chain lock.
LOCK_HEAD = select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()


SEQ_MARK, PREV_MARK = -8_302_514_977, "@prev@"  # stand-ins, cut out of the canonical form


def hash_parts(event) -> tuple[str, str, str]:
    """An event's canonical form in three parts, around its prev_hash and seq.

    sha256(pre + prev_hash + mid + str(seq) + post) equals event_hash(event), so PostgreSQL can
    chain an event whose place it only learns under the lock. A key is the only unescaped
    `"name":` in canonical JSON, so the cuts cannot land inside a value.
    """
    fields = {key: event[key] for key in HASHED if key not in ("seq", "prev_hash")}
    fields["recorded_at"] = timestamp(event["recorded_at"])
    text = canonical({**fields, "seq": SEQ_MARK, "prev_hash": PREV_MARK}).decode()
    pre, _, rest = text.partition(f'"prev_hash":"{PREV_MARK}"')
    mid, _, post = rest.partition(f'"seq":{SEQ_MARK}')
    return pre + '"prev_hash":"', '"' + mid + '"seq":', post


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


def new_event(*, subject: str, subject_type: str, action: str, choices: dict,
              policy_version: str, language: str, text_hash: str | None, source: str,
              gpc: bool = False, ip: str | None = None, user_agent: str | None = None,
              event_id: str | None = None) -> dict:
    """An event's fields but its place in the chain (seq, time, prev_hash, hash).

    Built before the chain is locked, so that the lock is held as briefly as possible.
    """
    salt = secrets.token_hex(8)
    return {
        "event_id": event_id or str(uuid.uuid4()), "subject_type": subject_type,
        "subject": subject, "action": action, "choices": canonical(choices).decode(),
        "policy_version": policy_version, "language": language, "text_hash": text_hash,
        "source": source, "gpc": bool(gpc), "ip": ip, "user_agent": user_agent,
        "pii_salt": salt, "ip_digest": digest(salt, ip), "ua_digest": digest(salt, user_agent),
    }


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
        """Blank IP and user agent in every event of a subject (the one edit the ledger allows)."""
        self.conn.execute(update(EVENTS).where(EVENTS.c.subject == subject)
                          .values(ip=None, user_agent=None))


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
    """What verify found."""

    ok: bool
    events: int
    head: str
    head_seq: int
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "head": self.head,
                "head_seq": self.head_seq, "first_bad_seq": self.first_bad_seq,
                "reason": self.reason}


def verify(session: Session) -> Verification:
    """Walk the chain in sequence order; name the first sequence number that does not hold.

    The head and the events are read in one snapshot (REPEATABLE READ on PostgreSQL; one read
    transaction on SQLite), so appends while it runs are not taken for a broken tail.
    """
    with _own(session).get_bind().connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return _verify(conn)


def _verify(session) -> Verification:
    head = session.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)

    def bad(seq, reason, events):
        return Verification(False, events, head_hash, head_seq, seq, reason)

    expected, prev, count = 1, GENESIS, 0
    blanked: dict[str, int] = {}  # subject -> first event whose personal fields were blanked
    last_erase: dict[str, int] = {}
    with closing(_stream(session)) as rows:
        for row in rows:
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


def _stream(db):
    """Every event in sequence order, streamed (server-side cursor on PostgreSQL)."""
    return db.execute(select(EVENTS).order_by(EVENTS.c.seq),
                      execution_options={"yield_per": 2000}).mappings()


def _check(row, expected: int, prev: str, blanked: dict, last_erase: dict):
    """(seq, reason) when this event breaks the chain, else None; notes erasures."""
    seq = row["seq"]
    if seq != expected:
        return expected, f"event {expected} is missing"
    if row["prev_hash"] != prev:
        return seq, "prev_hash does not match the previous event"
    for field, digest_field in (("ip", "ip_digest"), ("user_agent", "ua_digest")):
        value, stored = row[field], row[digest_field]
        if value is not None and digest(row["pii_salt"], value) != stored:
            return seq, f"{field} does not match its digest"
        if value is None and stored is not None:
            blanked.setdefault(row["subject"], seq)
    if event_hash(row) != row["hash"]:
        return seq, "hash does not match the event"
    if row["action"] == "erase":
        last_erase[row["subject"]] = seq
    return None


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
