"""The ledger on SQLite: the engine's set-up, the writer lock, and the append path.

Writers take the database's write lock when they begin (BEGIN IMMEDIATE, SQLAlchemy's documented
recipe of a `begin` event): a deferred transaction that reads the chain head and then writes
fails under several writer processes whatever busy_timeout says. SQLite's busy handler sleeps
1, 2, 5, 10 ... ms between tries, far longer than an append holds the lock, so writers from
other processes queue on a file lock beside the database instead, which wakes the next one as
soon as the lock is free.

The request's session does not BEGIN at all: each of its reads sees the last commit, as on
PostgreSQL under READ COMMITTED (database.py).
"""
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, bindparam, event, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from .. import database
from ..models import EVENTS, HEAD, STATE, STATE_FIELDS, THE_HEAD, utcnow
from .chain import event_hash
from .events import ERASED, NO_HEAD, Writer, decided

WRITER_LOCK = "consent_writer_lock_fd"
WRITES = "consent_writes_since_checkpoint"
# Checkpoints (the WAL copied into the database file, with two fsyncs): SQLite's automatic one
# runs inside the COMMIT that takes the WAL past 1,000 pages, while our writer lock is still
# held, so every writer of every process waited for its copy and fsyncs (an append writes about
# 12 pages: one checkpoint per ~85 appends, up to tens of ms each). Ours runs after the lock is
# released, once per CHECKPOINT_EVERY writes of a connection, PASSIVE (it never waits for a
# reader or writer; a busy one is simply skipped). SQLite's own stays as a backstop for other
# connections, at AUTOCHECKPOINT_PAGES.
CHECKPOINT_EVERY = 100
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"
AUTOCHECKPOINT_PAGES = 20_000
DIALECT = sqlite.dialect(paramstyle="named")


def _sql(statement) -> str:
    """A Core statement as SQLite SQL with :name parameters (compiled once, at import)."""
    return str(statement.compile(dialect=DIALECT))


def _upsert_state():
    values = {"subject": bindparam("subject"), "first_at": bindparam("recorded_at"),
              **{name: bindparam(name) for name in STATE_FIELDS}}
    statement = sqlite.insert(STATE).values(values)
    return statement.on_conflict_do_update(
        index_elements=[STATE.c.subject], set_={name: statement.excluded[name]
                                                for name in STATE_FIELDS})


INSERT_EVENT = _sql(insert(EVENTS).values({c.name: bindparam(c.name) for c in EVENTS.columns}))
UPSERT_STATE = _sql(_upsert_state())
READ_HEAD = _sql(select(HEAD.c.seq, HEAD.c.hash).where(THE_HEAD))
MOVE_HEAD = _sql(update(HEAD).where(THE_HEAD).values(seq=bindparam("seq"),
                                                           hash=bindparam("hash")))
STATE_UNDER_LOCK = _sql(select(STATE.c.choices, STATE.c.action)
                        .where(STATE.c.subject == bindparam("subject")))
# SQLAlchemy's stored form of a time, for rows written past it (they read back alike).
TIME = EVENTS.c.recorded_at.type.bind_processor(DIALECT)


def configure(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys; BEGIN IMMEDIATE under the writer lock for writers,
    a plain BEGIN for snapshots, none for the session's reads."""

    @event.listens_for(engine, "connect")
    def connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we BEGIN ourselves (or not at all)
        cursor = dbapi_conn.cursor()
        # secure_delete: what an erasure blanks or deletes is overwritten with zeros in the
        # file, not left in a page's free space.
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                       "PRAGMA busy_timeout=30000", "PRAGMA foreign_keys=ON",
                       "PRAGMA secure_delete=ON",
                       f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}"):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Connection):
        options = conn.get_execution_options()
        if options.get(database.WRITE):
            fd = _lock(conn)
            conn.info[database.AFTER] = lambda: _after_write(conn, fd)
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif options.get(database.TRANSACTION):
            conn.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "close")
    def close(_dbapi_conn, record):
        if (fd := record.info.pop(WRITER_LOCK, None)) is not None:
            os.close(fd)


def _after_write(conn: Connection, fd: int | None) -> None:
    """Once a write's transaction has ended: release the writer lock; then, after an erasure,
    copy the WAL into the database and empty it (R-02: the erased values lived on in the -wal
    file until the next checkpoint), else checkpoint when one is due. Checkpoints run outside
    any transaction and the lock, on the connection's own handle."""
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    if conn.info.pop(ERASED, False):
        conn.info[WRITES] = 0
        conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    elif _checkpoint_due(conn.info):
        conn.connection.dbapi_connection.execute(CHECKPOINT).fetchall()


def _checkpoint_due(info: dict) -> bool:
    """Whether this write, the CHECKPOINT_EVERY-th of its connection, is followed by a
    checkpoint (after the writer lock is released)."""
    info[WRITES] = info.get(WRITES, 0) + 1
    if info[WRITES] < CHECKPOINT_EVERY:
        return False
    info[WRITES] = 0
    return True


def _lock(conn: Connection) -> int | None:
    """Take the writer lock beside the database file (opened once per pooled connection);
    its descriptor, or None for a database in memory."""
    database_file = conn.engine.url.database
    if not database_file or database_file == ":memory:":
        return None
    if (fd := conn.info.get(WRITER_LOCK)) is None:
        fd = conn.info[WRITER_LOCK] = os.open(f"{database_file}.writer-lock",
                                              os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


class SqliteWriter(Writer):
    """Chains in Python (chain.event_hash); the head row moves once, when the transaction ends."""

    def __init__(self, conn, seq: int, hash: str, run=None):
        super().__init__(conn, seq, hash)
        self.run = run or conn.exec_driver_sql

    def append(self, event: dict, now: datetime | None = None) -> dict:
        if event["action"] is None:  # decided here, under the lock (two tabs at once stay apart)
            event = decided(event, self.run(STATE_UNDER_LOCK,
                                            {"subject": event["subject"]}).fetchone())
        event = {**event, "seq": self.seq + 1, "recorded_at": now or utcnow(),
                 "prev_hash": self.hash}
        event["hash"] = event_hash(event)
        row = {**event, "recorded_at": TIME(event["recorded_at"])}
        self.run(INSERT_EVENT, row)
        self.run(UPSERT_STATE, row)
        self.seq, self.hash = event["seq"], event["hash"]
        return event

    def move_head(self) -> None:
        self.run(MOVE_HEAD, {"seq": self.seq, "hash": self.hash})


class SqliteLedger:
    """The ledger's two ways to write on SQLite."""

    writer = SqliteWriter

    def __init__(self, engine: Engine):
        self.engine = engine
        configure(engine)

    def append(self, event: dict) -> dict:
        """One event in a transaction of its own.

        Why straight on the sqlite3 connection: SQLAlchemy's work per statement was a tenth of
        a consent's CPU. The same lock, BEGIN IMMEDIATE and statements as locked().
        """
        with self.engine.connect() as conn:
            raw: sqlite3.Connection = conn.connection.dbapi_connection
            fd = _lock(conn)
            try:
                raw.execute("BEGIN IMMEDIATE")
                try:
                    head = raw.execute(READ_HEAD).fetchone()
                    if head is None:
                        raise RuntimeError(NO_HEAD)
                    writer = self.writer(conn, *head, run=raw.execute)
                    event = writer.append(event)
                    writer.move_head()
                    raw.execute("COMMIT")
                except BaseException:
                    if raw.in_transaction:
                        raw.execute("ROLLBACK")
                    raise
            except sqlite3.IntegrityError as error:  # as SQLAlchemy would raise it
                raise IntegrityError(INSERT_EVENT, None, error) from error
            finally:
                _after_write(conn, fd)  # the unit of work ends as every write's does
        return event

    @contextmanager
    def locked(self) -> Iterator[SqliteWriter]:
        """Several writes under the chain lock, in one transaction (database.writing)."""
        with database.writing(self.engine) as conn:
            head = conn.exec_driver_sql(READ_HEAD).first()
            if head is None:
                raise RuntimeError(NO_HEAD)
            writer = self.writer(conn, *head)
            yield writer
            writer.move_head()
