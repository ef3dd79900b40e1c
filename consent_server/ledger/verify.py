"""Checking the ledger: the chain walked in sequence order, the Merkle tree and the state
compared with it; and the state rebuilt from the ledger alone."""
from contextlib import closing
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from .. import database
from ..models import EVENTS, HEAD, STATE, STATE_FIELDS, THE_HEAD
from ..vocabulary import DEFAULT_SITE, Action
from . import reading, treestore
from .backends import locked
from .chain import GENESIS, digest, event_hash


@dataclass
class Verification:
    """What verify found: the chain, and whether the state table is its projection."""

    ok: bool
    events: int
    head: str
    head_seq: int
    first_bad_seq: int | None = None
    reason: str | None = None
    state_ok: bool = True
    bad_subjects: list[str] = field(default_factory=list)  # the first few, when state_ok is False

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "head": self.head,
                "head_seq": self.head_seq, "first_bad_seq": self.first_bad_seq,
                "reason": self.reason, "state_ok": self.state_ok,
                "bad_subjects": self.bad_subjects}


def verify(session: Session, state: bool = True) -> Verification:
    """Walk the chain in sequence order; name the first sequence number that does not hold.
    Then check that the Merkle tree (as far as it is integrated) is the chain's; (state=True)
    that the state table is the ledger's projection.

    The head and the events are read in one snapshot (REPEATABLE READ on PostgreSQL; one read
    transaction on SQLite), so appends while it runs are not taken for a broken tail.
    """
    with database.snapshot(session) as conn:
        result = _verify(conn)
        if result.ok and (problem := treestore.check(conn)) is not None:
            result.ok, (result.first_bad_seq, result.reason) = False, problem
        if state:
            result.bad_subjects = _state_mismatches(conn)
            result.state_ok = not result.bad_subjects
            if result.ok and not result.state_ok:
                result.ok = False
                result.reason = "the state table is not the ledger's projection"
        return result


def _verify(session) -> Verification:
    head = session.execute(select(HEAD.c.seq, HEAD.c.hash).where(THE_HEAD)).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)

    def bad(seq, reason, events):
        return Verification(False, events, head_hash, head_seq, seq, reason)

    expected, prev, count = 1, GENESIS, 0
    blanked: dict[str, int] = {}  # subject -> first event whose personal fields were blanked
    last_erase: dict[str, int] = {}
    names = reading.NAMES
    fast = select(*reading.columns(session.dialect.name)).order_by(EVENTS.c.seq)
    with closing(session.execute(fast, execution_options={"yield_per": 5000})) as result:
        for values in result:
            row = dict(zip(names, values, strict=True))
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


def _stream(db, query=None):
    """Every event in sequence order, streamed (server-side cursor on PostgreSQL)."""
    return db.execute(query if query is not None else select(EVENTS).order_by(EVENTS.c.seq),
                      execution_options={"yield_per": 2000}).mappings()


def _check(row, expected: int, prev: str, blanked: dict, last_erase: dict):
    """(seq, reason) when this event breaks the chain, else None; notes erasures."""
    seq = row["seq"]
    if seq != expected:
        return expected, f"event {expected} is missing"
    if row["prev_hash"] != prev:
        return seq, "prev_hash does not match the previous event"
    salt = row["pii_salt"]
    for name, digest_field in (("ip", "ip_digest"), ("user_agent", "ua_digest")):
        value, stored = row[name], row[digest_field]
        if value is not None and (salt is None or digest(salt, value) != stored):
            return seq, f"{name} does not match its digest"
        if value is None and stored is not None:
            blanked.setdefault(row["subject"], seq)
    if salt is None and (row["ip_digest"] or row["ua_digest"]):
        blanked.setdefault(row["subject"], seq)
    if (row["v"] or 1) == 1 and (row["basis"] is not None or row["details"] is not None):
        return seq, "a version 1 event cannot have basis or details (they would be unhashed)"
    if (row["v"] or 1) < 3 and row["site"] != DEFAULT_SITE:
        return seq, "an event before version 3 cannot have a site but the default (unhashed)"
    if event_hash(row) != row["hash"]:
        return seq, "hash does not match the event"
    if row["action"] == Action.ERASE:
        last_erase[row["subject"]] = seq
    return None


def _state_mismatches(conn, limit: int = 10) -> list[str]:
    """Subjects whose state row is not what the ledger says (edited, deleted, invented, stale).

    Two queries instead of a replay in memory: each state row against the event it names, and
    each subject's last event and first time against its state row.
    """
    bad: list[str] = []
    events = [EVENTS.c[key].label(f"e_{key}") for key in ("subject", *STATE_FIELDS)]
    joined = (select(STATE, *events)
              .select_from(STATE.outerjoin(EVENTS, EVENTS.c.seq == STATE.c.seq))
              .order_by(STATE.c.subject))
    with closing(_stream(conn, joined)) as rows:
        for row in rows:
            if row["e_subject"] != row["subject"] or any(
                    row[key] != row[f"e_{key}"] for key in STATE_FIELDS):
                bad.append(row["subject"])
                if len(bad) >= limit:
                    return bad
    per_subject = (select(EVENTS.c.subject, func.max(EVENTS.c.seq).label("last"),
                          func.min(EVENTS.c.recorded_at).label("first"))
                   .group_by(EVENTS.c.subject).subquery())
    missing = (select(per_subject.c.subject)
               .select_from(per_subject.outerjoin(STATE, STATE.c.subject == per_subject.c.subject))
               .where(or_(STATE.c.subject.is_(None), STATE.c.seq != per_subject.c.last,
                          STATE.c.first_at != per_subject.c.first))
               .order_by(per_subject.c.subject).limit(limit - len(bad)))
    bad += [subject for subject, in conn.execute(missing) if subject not in bad]
    return bad[:limit]


def rebuild_state(session: Session) -> int:
    """Rebuild the current-state table from the ledger alone; returns the number of subjects."""
    with locked(session) as writer:
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
