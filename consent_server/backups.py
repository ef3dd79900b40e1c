"""Backups (S-08): the SQLite database copied with SQLite's online backup API, consistent while
writers run (the copy is one snapshot: what was committed when it began), and restored into an
empty database. PostgreSQL is backed up with pg_dump and restored with pg_restore (README,
"Backups"); these functions refuse it with that pointer."""
import os
import sqlite3
from dataclasses import dataclass

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from .errors import Conflict, Invalid

PG_RECIPE = ("PostgreSQL is backed up with pg_dump and restored with pg_restore: see the "
             "README's \"Backups\" section for the commands")
# Tables whose rows make a database not empty: it holds somebody's data or accounts.
HOLDERS = ("consent_event", "person", "staff_user", "api_key")


@dataclass(frozen=True)
class Summary:
    """What a database file holds, checked: SQLite's integrity check, events, head, revision."""

    integrity: str
    events: int
    head: int
    revision: str | None


def summary(path: str) -> Summary:
    """Check a database file (read only) and say what it holds; Invalid when it is not a
    consent-server database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise Invalid(f"{path} cannot be opened: {error}") from None
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM consent_event").fetchone()[0]
        head = conn.execute("SELECT seq FROM chain_head WHERE id = 1").fetchone()[0]
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    except (sqlite3.Error, TypeError) as error:
        raise Invalid(f"{path} is not a consent-server database ({error})") from None
    finally:
        conn.close()
    return Summary(integrity, events, head, revision)


def _sqlite_only(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        raise Invalid(PG_RECIPE)


def backup(engine: Engine, out: str) -> Summary:
    """Copy the SQLite database to a new file out while the server runs; its summary."""
    _sqlite_only(engine)
    if os.path.exists(out):
        raise Conflict(f"{out} exists; give a new file")
    raw = engine.raw_connection()
    try:
        target = sqlite3.connect(out)
        try:
            raw.driver_connection.backup(target)  # all pages in one step: one snapshot
        finally:
            target.close()
    finally:
        raw.close()
    os.chmod(out, 0o600)  # it holds addresses and the ledger
    return summary(out)


def holds_data(engine: Engine) -> list[str]:
    """The tables of HOLDERS that have rows (empty list: the database may be restored into)."""
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return [name for name in HOLDERS if name in tables and conn.execute(
            text(f"SELECT 1 FROM {name} LIMIT 1")).first() is not None]  # names: HOLDERS


def restore(engine: Engine, source: str) -> Summary:
    """Copy a backup file into this SQLite database, which must hold no data; its summary."""
    _sqlite_only(engine)
    found = summary(source)
    if found.integrity != "ok":
        raise Invalid(f"{source} fails SQLite's integrity check: {found.integrity}")
    if full := holds_data(engine):
        raise Conflict("the database is not empty (it has rows in " + ", ".join(full)
                       + "): restore into a new one")
    engine.dispose()  # no pooled connection keeps the old schema open
    raw = engine.raw_connection()
    try:
        copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            copy.backup(raw.driver_connection)
        finally:
            copy.close()
    finally:
        raw.close()
    engine.dispose()
    return found
