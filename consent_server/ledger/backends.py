"""The backend of each engine, chosen once when the app starts from its dialect; the two ways
to write (see the package's docstring)."""
import importlib
import weakref
from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .. import database
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
    """Append one event from new_event in a transaction of its own; returns it chained."""
    return backend(session).append(event)


def locked(session: Session) -> AbstractContextManager[Writer]:
    """The chain locked for one transaction of several writes; committed when the block ends,
    rolled back on any error."""
    return backend(session).locked()
