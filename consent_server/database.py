"""The database: the one way to write (a unit of work of its own), snapshots for long reads,
the engine's pool, the schema's revision and health.

The request's session only reads: on PostgreSQL (READ COMMITTED) and on SQLite (no BEGIN for
the session, ledger/sqlite.py) each statement sees what was committed before it. Every write is
a `writing()` block: its own connection and transaction, committed when the block ends, rolled
back on any error, so that no caller's transaction is ever committed or ended by a helper.
"""
from collections.abc import Iterator
from contextlib import contextmanager

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# Execution options a backend reads when a transaction begins (ledger/sqlite.py): WRITE takes
# the database's write lock at BEGIN; TRANSACTION begins a plain one (a snapshot, a migration).
# AFTER holds what to run once the transaction has ended (SQLite's writer lock is released after
# the commit, not before).
WRITE, TRANSACTION, AFTER = "consent_write", "consent_transaction", "consent_after"


def engine_of(bind) -> Engine:
    """The engine behind a session (scoped or not), an engine or a connection."""
    if hasattr(bind, "get_bind"):
        bind = bind.get_bind()
    return bind.engine


@contextmanager
def writing(bind) -> Iterator[Connection]:
    """A unit of work that writes: its own connection and transaction, committed when the block
    ends, rolled back on any error (SQLite: BEGIN IMMEDIATE, under the writer lock)."""
    with engine_of(bind).connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        try:
            with conn.begin():
                yield conn
        finally:
            if (after := conn.info.pop(AFTER, None)) is not None:
                after()


@contextmanager
def snapshot(bind) -> Iterator[Connection]:
    """A read transaction that sees one snapshot throughout (REPEATABLE READ on PostgreSQL,
    one deferred transaction on SQLite): writes meanwhile are not seen half."""
    engine = engine_of(bind)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn = conn.execution_options(**{TRANSACTION: True})
        with conn.begin():
            yield conn


def pool_options(url: str, threads: int) -> dict:
    """Pool settings for a server process with this many threads: two connections kept for each
    (a request's reads and its write), so that none is opened and closed per request; as many
    again may open for a burst beyond that, rather than a request waiting (SQLite's file needs
    no pool limit)."""
    if url.startswith("sqlite"):
        return {}
    return {"pool_size": 2 * threads, "max_overflow": 2 * threads, "pool_timeout": 30}


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None before the first migration."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def database_ok(session: Session) -> bool:
    """True when the database answers a trivial query."""
    try:
        session.execute(select(1))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False
