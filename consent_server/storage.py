"""Database engine set-up: SQLite pragmas and write locks, health check."""
import fcntl
import os
import sqlite3
from contextlib import contextmanager

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, select
from sqlalchemy.engine import Engine

IMMEDIATE = "consent_immediate"


def configure_engine(engine: Engine) -> None:
    """SQLite: WAL, a busy timeout, and BEGIN IMMEDIATE for ledger writers (see ledger.writing).

    A deferred SQLite transaction that reads the chain head and then writes fails under several
    writer processes whatever busy_timeout says; SQLAlchemy's documented recipe lets us emit BEGIN
    ourselves, so a writer takes the write lock before it reads.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    # SQLite's busy handler sleeps 1, 2, 5, 10 ... ms between tries, far longer than a ledger
    # append holds the lock: writers from other processes then queue on a file lock instead,
    # which wakes the next one as soon as the lock is free.
    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get(IMMEDIATE)
        if immediate and (fd := _lock_file(conn)) is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            conn.info[LOCKED] = True
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "close")
    def _close(dbapi_conn, record):
        if (fd := record.info.pop(WRITER_LOCK, None)) is not None:
            os.close(fd)


WRITER_LOCK, LOCKED = "consent_writer_lock_fd", "consent_writer_locked"


def _lock_file(conn: Connection) -> int | None:
    """The writer lock beside a SQLite database file, opened once per pooled connection."""
    database = conn.engine.url.database
    if not database or database == ":memory:":
        return None
    if (fd := conn.info.get(WRITER_LOCK)) is None:
        fd = conn.info[WRITER_LOCK] = os.open(f"{database}.writer-lock",
                                              os.O_RDWR | os.O_CREAT, 0o600)
    return fd


@contextmanager
def sqlite_writing(conn: Connection):
    """SQLite: one write transaction straight on the sqlite3 connection (the ledger's hot path).

    The same file lock and BEGIN IMMEDIATE as a writer through SQLAlchemy; committed when the
    block ends, rolled back on any error, the lock released either way.
    """
    raw = conn.connection.dbapi_connection
    fd = _lock_file(conn)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield raw
            raw.execute("COMMIT")
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
    finally:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


def release_writer(info: dict) -> None:
    """Let the next writer process in (after commit or rollback): see configure_engine."""
    if info.pop(LOCKED, False):
        fcntl.flock(info[WRITER_LOCK], fcntl.LOCK_UN)


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None before the first migration."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def database_ok(session) -> bool:
    """True when the database answers a trivial query."""
    try:
        session.execute(select(1))
        session.rollback()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        session.rollback()
        return False
