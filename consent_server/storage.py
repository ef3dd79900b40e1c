"""Database engine set-up: SQLite pragmas and write locks, health check."""
import sqlite3

from sqlalchemy import event, select
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

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get(IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def database_ok(session) -> bool:
    """True when the database answers a trivial query."""
    try:
        session.execute(select(1))
        session.rollback()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        session.rollback()
        return False
