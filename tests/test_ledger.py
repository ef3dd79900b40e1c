"""The ledger: hash chain, tamper detection, erasure, state rebuild, expiry, CLI."""
import fcntl
import hashlib
import os
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError

from consent_server import ledger
from consent_server.consent import devices
from consent_server.extensions import db
from consent_server.ledger import chain
from consent_server.ledger.chain import GENESIS
from consent_server.models import ChainHead, ConsentEvent, ConsentState, utcnow


def record(n=1, **fields):
    out = []
    for i in range(n):
        out.append(devices.record(
            db.session, choices={"analytics": bool(i % 2), "marketing": False},
            policy_version="1", language="nb", source="banner", max_age_days=365,
            ip="192.0.2.10", user_agent="Test/1.0", **fields))
    return out


def test_chain_links_every_event_and_verifies(app):
    """REQ L-02: each event stores the previous hash and its own SHA-256."""
    with app.app_context():
        record(5)
        rows = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)).scalars().all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == GENESIS
        for before, after in zip(rows, rows[1:], strict=False):
            assert after.prev_hash == before.hash
        assert all(chain.event_hash(r.__dict__) == r.hash for r in rows)
        result = ledger.verify(db.session)
        assert result.ok and result.events == 5 and result.head == rows[-1].hash


TAMPERED = {
    "event_id": "00000000-0000-4000-8000-000000000000", "subject": "someone-else",
    "action": "withdraw", "choices": '{"analytics":false}', "policy_version": "0",
    "language": "en", "text_hash": "f" * 64, "source": "api", "gpc": True,
    "ip": "198.51.100.0", "user_agent": "Forged/2.0", "pii_salt": "00", "ip_digest": "a" * 64,
    "ua_digest": "b" * 64, "prev_hash": "c" * 64, "hash": "d" * 64, "v": 1,
    "basis": "customer", "details": '{"sale_date":"2026-01-01"}', "site": "elsewhere",
}


@pytest.mark.parametrize("column", sorted(TAMPERED) + ["recorded_at"])
def test_editing_any_column_is_detected_at_its_seq(app, runner, column):
    """REQ L-02: verify names the first broken sequence number."""
    with app.app_context():
        record(4)
        value = TAMPERED.get(column, utcnow() - timedelta(days=3))
        db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == 3)
                           .values({column: value}))
        db.session.commit()
        result = ledger.verify(db.session)
    assert not result.ok and result.first_bad_seq == 3, result
    cli = runner.invoke(args=["consent", "verify"])
    assert cli.exit_code == 1
    assert "seq 3" in cli.output


def test_editing_through_raw_sql_is_detected(app):
    with app.app_context():
        record(3)
        db.session.execute(text("UPDATE consent_event SET choices = :c WHERE seq = 2"),
                           {"c": '{"analytics":true,"marketing":true,"necessary":true}'})
        db.session.commit()
        assert ledger.verify(db.session).first_bad_seq == 2


@pytest.mark.parametrize("seq, first_bad", [(1, 1), (3, 3), (5, 5)])
def test_deleting_any_row_is_detected(app, seq, first_bad):
    with app.app_context():
        record(5)
        db.session.execute(delete(ConsentEvent).where(ConsentEvent.seq == seq))
        db.session.commit()
        result = ledger.verify(db.session)
    assert not result.ok and result.first_bad_seq == first_bad


def test_swapping_two_events_is_detected(app):
    with app.app_context():
        record(4)
        db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == 2).values(seq=-2))
        db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == 3).values(seq=2))
        db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == -2).values(seq=3))
        db.session.commit()
        assert ledger.verify(db.session).first_bad_seq == 2


def test_blanking_personal_fields_without_an_erase_event_is_detected(app):
    with app.app_context():
        record(3)
        db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == 2)
                           .values(ip=None, user_agent=None))
        db.session.commit()
        assert ledger.verify(db.session).first_bad_seq == 2


def test_an_untouched_ledger_verifies_by_cli(app, runner):
    with app.app_context():
        record(3)
    result = runner.invoke(args=["consent", "verify"])
    assert result.exit_code == 0, result.output
    assert "ok: 3 events" in result.output


def test_erasure_keeps_the_chain_verifiable(app):
    """REQ L-01: erasure is the only edit; the chain still verifies afterwards."""
    with app.app_context():
        first, *_ = record(3)
        devices.erase(db.session, first["consent_id"], 365)
        assert ledger.verify(db.session).ok
        erased = db.session.execute(select(ConsentEvent).where(
            ConsentEvent.subject == first["consent_id"])).scalars().all()
        assert all(e.ip is None and e.user_agent is None for e in erased)
        # the digests stay (the chain verifies), their salts are gone
        assert all(e.ip_digest and e.ua_digest for e in erased if e.action != "erase")
        assert all(e.pii_salt is None for e in erased)


def test_state_is_updated_in_the_same_transaction(app):
    with app.app_context():
        first = record()[0]
        state = db.session.get(ConsentState, first["consent_id"])
        assert state.hash == first["hash"] and state.seq == 1
        head = db.session.get(ChainHead, 1)
        assert (head.seq, head.hash) == (1, first["hash"])


def test_a_failure_mid_append_leaves_ledger_and_state_unchanged(app):
    """REQ L-06: a transaction that fails after its appends (here between two) leaves no trace;
    a single append is one statement on PostgreSQL, and one transaction on SQLite."""
    with app.app_context():
        record(2)

        def event(subject):
            return ledger.new_event(subject=subject, subject_type="device", action="grant",
                                    choices={"analytics": True, "marketing": False},
                                    policy_version="1", language="nb", text_hash=None,
                                    source="api")

        with pytest.raises(RuntimeError), ledger.locked(db.session) as writer:
            writer.append(event("a"))
            writer.append(event("b"))
            raise RuntimeError("disk on fire")
        assert ledger.verify(db.session).events == 2
        assert db.session.execute(select(ConsentState)).scalars().all().__len__() == 2
        first = record(1)[0]
        with pytest.raises(IntegrityError):  # the same event id: the whole statement undone
            ledger.append(db.session, {**event("c"), "event_id": first["event_id"]})
        assert ledger.verify(db.session).ok and ledger.verify(db.session).events == 3
        assert db.session.get(ConsentState, "c") is None


def test_a_500_is_problem_json_and_stores_nothing(app, client, monkeypatch, choice):
    def failing(self, *args, **kw):
        raise RuntimeError("boom with secret details")

    with app.app_context():
        monkeypatch.setattr(ledger.backend(db.engine).writer, "append", failing)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise
    resp = client.post("/api/v1/consents", json=choice)
    assert resp.status_code == 500
    assert resp.mimetype == "application/problem+json"
    assert b"secret details" not in resp.data and b"Traceback" not in resp.data
    monkeypatch.undo()
    assert client.post("/api/v1/consents", json=choice).status_code == 201
    with app.app_context():
        assert ledger.verify(db.session).events == 1


def test_rebuild_state_from_the_ledger_alone(app, runner):
    with app.app_context():
        a, b, c = record(3)
        devices.record(db.session, consent_id=a["consent_id"],
                        choices={"analytics": True, "marketing": True}, policy_version="1",
                        language="en", source="preferences", max_age_days=365)
        devices.erase(db.session, b["consent_id"], 365)
        columns = [col for col in ConsentState.__table__.columns]
        before = db.session.execute(select(*columns).order_by(ConsentState.subject)).all()
        db.session.execute(delete(ConsentState))
        db.session.commit()
    result = runner.invoke(args=["consent", "rebuild-state"])
    assert result.exit_code == 0 and "3 subjects" in result.output
    with app.app_context():
        after = db.session.execute(select(*columns).order_by(ConsentState.subject)).all()
    assert after == before


def test_purge_expired_ends_old_consents_with_an_expire_event(app, runner):
    with app.app_context():
        old = devices.record(db.session, choices={"analytics": True}, policy_version="1",
                              language="nb", source="banner", max_age_days=365,
                              ip="192.0.2.1")
        db.session.execute(update(ConsentState).where(ConsentState.subject == old["consent_id"])
                           .values(recorded_at=utcnow() - timedelta(days=400)))
        db.session.commit()
        fresh = record()[0]
    result = runner.invoke(args=["consent", "purge-expired"])
    assert result.exit_code == 0 and "expired 1 consents" in result.output
    with app.app_context():
        state = devices.current(db.session, old["consent_id"], 365)
        assert state["action"] == "expire"
        assert state["choices"] == {"necessary": True, "analytics": False, "marketing": False}
        assert devices.current(db.session, fresh["consent_id"], 365)["action"] == "grant"
        assert ledger.verify(db.session).ok
    again = runner.invoke(args=["consent", "purge-expired"])
    assert "expired 0 consents" in again.output


def test_hash_parts_rebuild_the_event_hash():
    """REQ L-02: PostgreSQL chains an event from the parts around prev_hash and seq; they must
    give exactly the hash that verify computes from the canonical form, also for odd values."""
    event = ledger.new_event(subject='x"prev_hash":"@prev@"', subject_type="device",
                             action="grant", choices={"analytics": True, "marketing": False},
                             policy_version='"seq":-8302514977', language="nb", text_hash=None,
                             source="banner", ip="203.0.113.0", user_agent="Mozilla æøå")
    event.update(seq=41, prev_hash="ab" * 32, recorded_at=utcnow())
    pre, mid, post = chain.hash_parts(event)
    rebuilt = hashlib.sha256(f"{pre}{event['prev_hash']}{mid}{event['seq']}{post}".encode())
    assert rebuilt.hexdigest() == chain.event_hash(event)


def test_sqlite_checkpoints_run_outside_the_writer_lock(app, monkeypatch):
    """On SQLite the WAL is copied into the database after the writer lock is released, once
    every CHECKPOINT_EVERY writes of a connection: a checkpoint (two fsyncs) inside the lock
    stopped every writer of every process. SQLite's own checkpoint is only a backstop."""
    from consent_server.ledger import sqlite as backend

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the SQLite backend's checkpoints")
        monkeypatch.setattr(backend, "CHECKPOINT_EVERY", 5)
        lock_file = f"{db.engine.url.database}.writer-lock"
        seen = []  # for each checkpoint: whether another process could take the writer lock

        def trace(statement):
            if statement.startswith("PRAGMA wal_checkpoint"):
                probe = os.open(lock_file, os.O_RDWR)
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    seen.append("free")
                except BlockingIOError:
                    seen.append("held")
                finally:
                    os.close(probe)

        with db.engine.connect() as conn:
            conn.connection.dbapi_connection.set_trace_callback(trace)
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == \
                backend.AUTOCHECKPOINT_PAGES
        record(12)  # one pooled connection: checkpoints after the 5th and the 10th write
        with ledger.locked(db.session) as writer:  # locked() writes count too
            writer.append(ledger.new_event(
                subject="locked", subject_type="device", choices={"analytics": True},
                policy_version="1", language="nb", text_hash=None, source="banner"))
        record(2)
        assert seen == ["free", "free", "free"]
        assert ledger.verify(db.session).ok
