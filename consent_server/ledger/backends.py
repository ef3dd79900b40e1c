"""The backend of each engine, chosen once when the app starts from its dialect; the two ways
to write (see the package's docstring)."""
import importlib
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .. import database, metrics
from ..models import EVENTS
from . import treestore
from .events import Writer

BACKENDS = {"sqlite": ("sqlite", "SqliteLedger"), "postgresql": ("postgres", "PostgresLedger")}


class Backend(Protocol):
    engine: Engine
    writer: type[Writer]  # what locked() yields

    def append(self, event: dict) -> dict: ...

    def locked(self) -> AbstractContextManager[Writer]: ...


_CHOSEN: "weakref.WeakKeyDictionary[Engine, Backend]" = weakref.WeakKeyDictionary()


def init(engine: Engine) -> Backend:
    """Choose and set up the engine's backend (once, when the app starts)."""
    if engine not in _CHOSEN:
        module, name = BACKENDS[engine.dialect.name]
        # Imported here: psycopg is loaded only when the database is PostgreSQL.
        backend = getattr(importlib.import_module(f".{module}", __package__), name)
        _CHOSEN[engine] = backend(engine)
    return _CHOSEN[engine]


def backend(bind: Session | Engine) -> Backend:
    """The backend chosen for this session's (or engine's) database."""
    return _CHOSEN[database.engine_of(bind)]


def append(session: Session, event: dict) -> dict:
    """Append one event from new_event in a transaction of its own; returns it chained.
    Every BATCH-th event then integrates the Merkle tree (treestore.py)."""
    placed = backend(session).append(event)
    metrics.count_events([placed])
    if placed["seq"] % treestore.BATCH == 0:
        treestore.integrate_quietly(session)
    return placed


@contextmanager
def locked(session: Session) -> Iterator[Writer]:
    """The chain locked for one transaction of several writes; committed when the block ends,
    rolled back on any error. The Merkle tree is integrated after it when it passed a
    multiple of BATCH."""
    with backend(session).locked() as writer:
        first = writer.seq
        yield writer
        last = writer.seq
    if last > first:  # committed: count what it appended (read back, whatever wrote it)
        with database.snapshot(session) as conn:
            metrics.count_events(conn.execute(
                select(EVENTS.c.action, EVENTS.c.source, EVENTS.c.choices)
                .where(EVENTS.c.seq > first, EVENTS.c.seq <= last)).mappings())
    if last // treestore.BATCH > first // treestore.BATCH:
        treestore.integrate_quietly(session)
