"""The Merkle tree's storage (table tree_node): integrated from the chain in batches right after
commit, read back for roots, proofs and tiles, rebuilt and checked against the chain.

Why in batches after commit, not inside the append: the PostgreSQL append is one autocommitted
statement hashed in the server; a tree step inside it would need the stored left siblings read
under the chain lock. Instead the append whose seq is a multiple of BATCH (backends.py) and
every reader of the tree (checkpoints, proofs, tiles) integrate what the chain holds beyond the
tree, under a lock of the tree's own, so the tree lags the chain by fewer than BATCH events
between reads and never for a reader. The tree is derived data: `rebuild` makes it again from
the events, and an erasure changes no event hash, so no leaf.
"""
import logging
from collections.abc import Iterable

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, text

from .. import database
from ..models import EVENTS, HEAD, NODES, THE_HEAD
from . import tree

BATCH = 256  # appends integrate when their seq is a multiple of this: a tile (bench/)
CHUNK = 20_000  # events integrated per round (memory: the frontier plus one chunk's nodes)
LOCK_KEY = 0x7472_6565  # PostgreSQL advisory lock of the tree's integrator ("tree")
log = logging.getLogger(__name__)


def size(conn) -> int:
    """The number of leaves the stored tree holds."""
    last = conn.execute(select(func.max(NODES.c.index)).where(NODES.c.level == 0)).scalar()
    return 0 if last is None else last + 1


def head_seq(conn) -> int:
    """The chain's last sequence number."""
    return conn.execute(select(HEAD.c.seq).where(THE_HEAD)).scalar() or 0


class Reader:
    """`get` for tree.py over one connection, each node read at most once."""

    def __init__(self, conn):
        self.conn, self.cache = conn, {}

    def __call__(self, level: int, index: int) -> bytes:
        if (level, index) not in self.cache:
            found = self.conn.execute(select(NODES.c.hash).where(
                NODES.c.level == level, NODES.c.index == index)).scalar()
            if found is None:
                raise LookupError(f"the tree has no node ({level}, {index})")
            self.cache[level, index] = bytes(found)
        return self.cache[level, index]

    def run(self, level: int, start: int, end: int) -> list[bytes]:
        """The stored hashes of one level from index start up to end (a tile's)."""
        rows = self.conn.execute(select(NODES.c.hash).where(
            NODES.c.level == level, NODES.c.index >= start, NODES.c.index < end)
            .order_by(NODES.c.index)).scalars()
        return [bytes(h) for h in rows]


def _frontier(conn, size_: int) -> dict[tuple[int, int], bytes]:
    """The complete subtrees a new leaf at `size_` may need as left siblings."""
    wanted = [(level, (size_ >> level) - 1) for level in range(size_.bit_length())
              if (size_ >> level) & 1]
    if not wanted:
        return {}
    # OR of key look-ups, not a row-value IN: SQLite answers that by scanning the whole table.
    rows = conn.execute(select(NODES.c.level, NODES.c.index, NODES.c.hash).where(or_(*(
        and_(NODES.c.level == level, NODES.c.index == index) for level, index in wanted))))
    return {(level, index): bytes(h) for level, index, h in rows}


def grow(conn: Connection, size_: int, hashes: Iterable[tuple[int, str]]) -> int:
    """Append leaves for (seq, event hash) from seq size_ + 1 on, contiguous; store the nodes
    they complete. Returns the new size."""
    known = _frontier(conn, size_)
    new: list[dict] = []
    for seq, event_hash in hashes:
        if seq != size_ + 1:
            break  # a gap: never skip a leaf
        for level, index, hash_ in tree.closed_nodes(size_, tree.leaf_hash(event_hash),
                                                    lambda lv, i: known[lv, i]):
            known[level, index] = hash_
            new.append({"level": level, "index": index, "hash": hash_})
        size_ += 1
    if new:
        conn.execute(insert(NODES), new)
    return size_


def _lock(conn: Connection) -> None:
    """Serialise integrators (SQLite's writing() already holds the writer lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def integrate(bind, look_first: bool = True) -> int:
    """Bring the tree up to the chain's head; returns its size. Cheap when it already is (it
    looks without the lock first, unless told there is work: two round trips fewer)."""
    engine = database.engine_of(bind)
    if look_first:
        with engine.connect() as conn:
            current, head = size(conn), head_seq(conn)
        if current >= head:
            return current
    while True:
        with database.writing(engine) as conn:
            _lock(conn)
            current = size(conn)
            rows = conn.execute(select(EVENTS.c.seq, EVENTS.c.hash).where(
                EVENTS.c.seq > current).order_by(EVENTS.c.seq).limit(CHUNK)).all()
            grown = grow(conn, current, rows)
        if grown == current or len(rows) < CHUNK:
            return grown  # caught up (or a gap, or a head beyond the events)


def integrate_quietly(bind) -> None:
    """integrate() after an append that already committed: a failure is logged, not raised
    (the next batch or reader catches up)."""
    try:
        integrate(bind, look_first=False)
    except Exception:  # noqa: BLE001 - the consent is recorded; the tree is derived data
        log.exception("integrating the Merkle tree failed; the next append or reader retries")


def rebuild(bind) -> int:
    """Delete the tree and make it again from the events; returns its size."""
    with database.writing(bind) as conn:
        _lock(conn)
        conn.execute(delete(NODES))
        current = 0
        while True:
            rows = conn.execute(select(EVENTS.c.seq, EVENTS.c.hash).where(
                EVENTS.c.seq > current).order_by(EVENTS.c.seq).limit(CHUNK)).all()
            grown = grow(conn, current, rows)
            if grown == current:
                return current
            current = grown


def check(conn) -> tuple[int | None, str] | None:
    """Whether the stored tree is the one the chain makes: (seq or None, reason), or None.

    Level by level: the leaves against the events' hashes, each level above against the pairs
    of the level below, and the count of each level against the tree's size.
    """
    n = size(conn)
    head = head_seq(conn)
    if n > head:
        return head + 1, f"the tree holds {n} leaves but the chain only {head} events"
    events = conn.execute(select(EVENTS.c.seq, EVENTS.c.hash).where(EVENTS.c.seq <= n)
                          .order_by(EVENTS.c.seq)).all()
    for index, (seq, _hash) in enumerate(events):
        if seq != index + 1:
            return index + 1, f"event {index + 1} is missing under leaf {index}"
    if len(events) != n:
        return len(events) + 1, f"event {len(events) + 1} is missing under leaf {len(events)}"
    below = [tree.leaf_hash(h) for _seq, h in events]
    level = 0
    while True:
        stored = [bytes(h) for h in conn.execute(
            select(NODES.c.hash).where(NODES.c.level == level).order_by(NODES.c.index)
        ).scalars()]
        if len(stored) != n >> level:
            return None, f"level {level} of the tree holds {len(stored)} nodes, not {n >> level}"
        for index, (found, expected) in enumerate(zip(stored, below, strict=False)):
            if found != expected:
                seq = index + 1 if level == 0 else None
                return seq, (f"leaf {index} is not the hash of event {index + 1}" if level == 0
                             else f"tree node ({level}, {index}) does not match its children")
        if len(stored) < 2:
            return None
        below = [tree.node_hash(stored[i], stored[i + 1]) for i in range(0, len(stored) - 1, 2)]
        level += 1
