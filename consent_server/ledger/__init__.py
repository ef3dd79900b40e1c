"""The append-only consent ledger: events in a SHA-256 hash chain (chain.py, the form an auditor
reads), the current state of each subject beside it.

One backend per database, chosen once when the app starts from the engine's dialect (init):
sqlite.py and postgres.py, each with the same two ways to write,

    append(event) -> the event as placed: one event in a transaction of its own (the hot path);
    locked()      -> a Writer: several writes under the chain lock in one transaction, committed
                     when the block ends (erasure, expiry, people's changes, rebuilds).

Writers from any number of processes queue on the one chain head, so the chain has no gaps or
forks. Both run their own transaction; none ever ends a caller's.
"""
from .backends import append, backend, init, locked
from .events import Spent, Writer, decide_action, event_by_id, new_event, state
from .verify import Verification, rebuild_state, verify

__all__ = ["Spent", "Verification", "Writer", "append", "backend", "decide_action",
           "event_by_id", "init", "locked", "new_event", "rebuild_state", "state", "verify"]
