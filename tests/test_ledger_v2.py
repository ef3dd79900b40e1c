"""The ledger's form version 2: salts out of the hash and gone on erasure, v1 events still
verifying after migration 0004, actions decided under the lock, the state checked by verify."""
import ipaddress
import json
import threading
from datetime import UTC, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, insert, inspect, select, text, update

from consent_server import ledger
from consent_server.consent import devices
from consent_server.extensions import db
from consent_server.ledger import chain
from consent_server.models import STATE_FIELDS, ChainHead, ConsentEvent, ConsentState


def every_stored_string(conn) -> set[str]:
    """Every string value in every column of every table (what someone with the database has)."""
    values = set()
    for table in inspect(conn).get_table_names():
        for row in conn.execute(text(f"SELECT * FROM {table}")):
            values.update(str(v) for v in row if v is not None)
    return values


def test_after_erasure_no_stored_value_recovers_the_truncated_ip(app, record_device):
    """REQ R-02: erasure deletes the salts; no field of the database, tried as the salt, makes
    any candidate address (the true one among them) match a digest that stayed."""
    with app.app_context():
        first = record_device(ip="192.0.2.77", user_agent="Firefox/140.0")
        record_device(consent_id=first["consent_id"], choices={"analytics": False},
               ip="192.0.2.77", user_agent="Firefox/140.0")
        record_device(ip="198.51.100.1")  # another device keeps its salt
        devices.erase(db.session, first["consent_id"], 365)
        events = db.session.execute(select(ConsentEvent).where(
            ConsentEvent.subject == first["consent_id"],
            ConsentEvent.action != "erase")).scalars().all()
        assert len(events) == 2 and all(e.ip_digest and e.ua_digest for e in events)
        with db.engine.connect() as conn:
            stored = every_stored_string(conn)
        assert "192.0.2.0" not in stored and "Firefox/140.0" not in stored
        candidates = [str(ip) for ip in ipaddress.ip_network("192.0.0.0/16")][::256]
        assert "192.0.2.0" in candidates
        digests = {e.ip_digest for e in events} | {e.ua_digest for e in events}
        for salt in stored:
            for candidate in (*candidates, "Firefox/140.0"):
                assert chain.digest(salt, candidate) not in digests, (salt, candidate)
        assert ledger.verify(db.session).ok


def test_a_salt_is_not_part_of_the_hash(app):
    """REQ L-02: version 2 hashes the digests, not the salt (so deleting it keeps the chain)."""
    with app.app_context():
        event = ledger.new_event(subject="s", subject_type="device", choices={}, policy_version="1",
                                 language="nb", text_hash=None, source="api", ip="192.0.2.0")
        event.update(seq=1, prev_hash=chain.GENESIS, recorded_at=datetime.now(UTC))
        assert "pii_salt" not in chain.form(event) and chain.form(event)["v"] >= 2
        assert chain.event_hash(event) == chain.event_hash({**event, "pii_salt": None})
        assert chain.event_hash(event) != chain.event_hash({**event, "ip_digest": "0" * 64})


def test_public_events_show_no_personal_fields(client, post_consent):
    """REQ R-01: the subject sees choices, times, versions, sources and hashes; never IP, user
    agent, salts or digests."""
    body = post_consent(choices={"analytics": True}).json
    post_consent(consent_id=body["consent_id"], choices={"analytics": False})
    resp = client.get(f"/api/v1/consents/{body['consent_id']}/events",
                      headers={"User-Agent": "Secret/1.0"},
                      environ_base={"REMOTE_ADDR": "192.0.2.5"})
    assert resp.status_code == 200
    for event in resp.json["events"]:
        assert not {"ip", "user_agent", "pii_salt", "ip_digest", "ua_digest"} & set(event)
        assert {"seq", "recorded_at", "action", "choices", "policy_version", "language",
                "source", "hash", "prev_hash", "v", "text_hash"} <= set(event)
    assert "192.0.2" not in resp.get_data(as_text=True)


def test_basis_and_details_are_hashed(app):
    """REQ L-02: a person's basis and details are in the version 2 form."""
    with app.app_context():
        event = ledger.append(db.session, ledger.new_event(
            subject="p" * 64, subject_type="person", action="grant",
            choices={"newsletter": False, "marketing": True}, policy_version="1", language="nb",
            text_hash=None, source="api", basis="customer",
            details={"sale_date": "2026-11-30", "product_category": "shoes",
                     "opt_out_offered": True}))
        assert event["details"] == chain.canonical(
            {"opt_out_offered": True, "product_category": "shoes",
             "sale_date": "2026-11-30"}).decode()
        assert ledger.verify(db.session).ok
        for column, value in (("basis", "consent"), ("details", '{"sale_date":"2020-01-01"}')):
            db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == event["seq"])
                               .values({column: value}))
            db.session.commit()
            assert ledger.verify(db.session).first_bad_seq == event["seq"], column
            db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == event["seq"])
                               .values(basis=event["basis"], details=event["details"]))
            db.session.commit()


def test_the_action_is_decided_from_the_state_under_the_lock(app):
    """Two events built before either is chained (two tabs at once): the second one is labelled
    from the state the first left, not from the state both read before."""
    with app.app_context():
        def event(analytics):
            return ledger.new_event(subject="tab", subject_type="device",
                                    choices={"necessary": True, "analytics": analytics,
                                             "marketing": False},
                                    policy_version="1", language="nb", text_hash=None,
                                    source="banner")

        on, off, on_again = event(True), event(False), event(True)
        assert [ledger.append(db.session, e)["action"] for e in (on, off)] == ["grant", "withdraw"]
        with ledger.locked(db.session) as writer:
            assert writer.append(on_again)["action"] == "update"
        assert ledger.state(db.session, "tab").action == "update"
        assert ledger.verify(db.session).ok
        kept = ledger.append(db.session, {**event(False), "action": "expire"})
        assert kept["action"] == "expire"  # an explicit action is kept


def test_concurrent_writes_for_one_device_are_labelled_in_chain_order(app, app_factory,
                                                                      record_device):
    """Many writes for one consent id at once: each event's action follows from the one chained
    before it."""
    with app.app_context():
        consent_id = record_device()["consent_id"]
    # Built here: the factory is not thread-safe.
    errors, apps = [], [app_factory() for _ in range(4)]

    def write(i):
        other = apps[i]
        try:
            with other.app_context():
                for j in range(6):
                    record_device(consent_id=consent_id, choices={"analytics": (i + j) % 2 == 0})
                db.session.remove()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with app.app_context():
        rows = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)).scalars().all()
        assert len(rows) == 25
        previous = None
        for row in rows:
            assert row.action == ledger.decide_action(previous, row.choices), row.seq
            previous = row.choices
        assert ledger.verify(db.session).ok


@pytest.mark.parametrize("tamper", ["edit", "delete", "invent", "stale", "first_at"])
def test_verify_checks_that_the_state_is_the_ledgers_projection(app, client, runner, tamper,
                                                                record_device):
    """REQ L-02: an edited, deleted, invented or stale state row is reported by verify (API and
    CLI), naming the subject; the chain itself is fine."""
    from consent_server.staff import keys

    with app.app_context():
        a = record_device()
        b = record_device(choices={"analytics": False})
        state = ConsentState.__table__
        if tamper == "edit":
            db.session.execute(update(state).where(state.c.subject == a["consent_id"])
                               .values(choices='{"analytics":true,"marketing":true,"necessary":true}'))
        elif tamper == "delete":
            db.session.execute(delete(state).where(state.c.subject == a["consent_id"]))
        elif tamper == "invent":
            row = db.session.execute(select(state).where(
                state.c.subject == b["consent_id"])).mappings().one()
            db.session.execute(insert(state).values({**row, "subject": a["consent_id"] + "x"}))
        elif tamper == "stale":
            record_device(consent_id=a["consent_id"], choices={"analytics": False})
            first = db.session.execute(
                select(ConsentEvent).where(ConsentEvent.seq == 1)).scalar_one()
            db.session.execute(update(state).where(state.c.subject == a["consent_id"]).values(
                **{key: getattr(first, key) for key in STATE_FIELDS}))
        else:
            db.session.execute(update(state).where(state.c.subject == a["consent_id"])
                               .values(first_at=datetime(2020, 1, 1, tzinfo=UTC)))
        db.session.commit()
        result = ledger.verify(db.session)
        assert not result.ok and not result.state_ok and result.first_bad_seq is None
        expected = a["consent_id"] + ("x" if tamper == "invent" else "")
        assert result.bad_subjects == [expected]
        _, secret = keys.create_key(db.session, "auditor", "auditor")
    body = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {secret}"}).json
    assert body["ok"] is False and body["state_ok"] is False and body["bad_subjects"] == [expected]
    cli = runner.invoke(args=["consent", "verify"])
    assert cli.exit_code == 1 and expected in cli.output
    assert runner.invoke(args=["consent", "rebuild-state"]).exit_code == 0
    assert runner.invoke(args=["consent", "verify"]).exit_code == 0


def _aware(value):
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else value


def test_a_ledger_made_by_the_old_code_keeps_verifying_after_0004(tmp_path, app_factory,
                                                                 publish, ledger_v1,
                                                                 record_device):
    """REQ L-02: events written before migration 0004 (tests/data/ledger_v1.json, made by the
    code of commit 811e072) verify by their own version 1 form; new events chain on as v2,
    erasure works across both, and an edit of an old event is still found."""
    app = app_factory(SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "v1.db"))
    with app.app_context():
        upgrade(revision="0003")
        with db.engine.begin() as conn:
            conn.execute(delete(ChainHead))
            conn.execute(insert(ChainHead), ledger_v1["chain_head"])
            for name, model in (("consent_event", ConsentEvent), ("consent_state", ConsentState)):
                table = model.__table__
                rows = [{k: _aware(v) if k in ("recorded_at", "first_at") else v
                         for k, v in row.items()} for row in ledger_v1[name]]
                conn.execute(text(f"INSERT INTO {table.name} ({', '.join(rows[0])}) VALUES "
                                  f"({', '.join(':' + k for k in rows[0])})"),
                             [{k: (v.replace(tzinfo=None) if isinstance(v, datetime) else v)
                               for k, v in row.items()} for row in rows])
        upgrade()
        publish(app)
        events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)).scalars().all()
        assert [e.v for e in events] == [1] * len(ledger_v1["consent_event"])
        result = ledger.verify(db.session)
        assert result.ok and result.events == len(events), result
        old = events[0].subject
        new = record_device(consent_id=old, choices={"analytics": False}, ip="192.0.2.1")
        assert new["consent_id"] == old
        assert db.session.execute(select(ConsentEvent.v).where(
            ConsentEvent.event_id == new["event_id"])).scalar_one() == chain.VERSION
        devices.erase(db.session, old, 365)
        assert ledger.verify(db.session).ok
        original = events[1].policy_version
        for change in ({"basis": "customer"}, {"details": '{"sale_date":"2020-01-01"}'},
                       {"policy_version": "0"}, {"site": "shop"}):  # REQ L-02
            db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == 2).values(change))
            db.session.commit()
            assert ledger.verify(db.session).first_bad_seq == 2, change
            db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == 2).values(
                basis=None, details=None, policy_version=original, site="default"))
            db.session.commit()
        assert ledger.verify(db.session).ok
        db.session.remove()
        db.engine.dispose()


def test_an_event_at_a_whole_second_verifies_and_exports(app):
    """SQLite keeps such a time without its fraction; the fast readers still give the hashed
    form (chain.timestamp)."""
    from consent_server.ledger import exports

    with app.app_context():
        at = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
        with ledger.locked(db.session) as writer:
            writer.append(ledger.new_event(subject="s", subject_type="device", action="grant",
                                           choices={"analytics": True}, policy_version="1",
                                           language="nb", text_hash=None, source="api"), now=at)
        assert ledger.verify(db.session).ok
        pieces = exports.export(db.engine, exports.Filters(), "ndjson")
        (line,) = "".join(t for _, t in pieces).splitlines()
        assert json.loads(line)["recorded_at"] == "2026-03-01T12:00:05.000000Z"
