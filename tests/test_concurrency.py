"""Appends from several processes at once keep one unbroken chain (REQ L-06)."""
import multiprocessing
import queue

from sqlalchemy import func, select

from consent_server import ledger
from consent_server.extensions import db
from consent_server.models import ConsentEvent

PROCESSES = 4
APPENDS = 40


def _append_many(settings, start, count, results):
    from consent_server import create_app
    from consent_server.consent import devices

    app = create_app(settings)
    with app.app_context():
        start.wait()
        cid = None
        for i in range(count):
            answer = devices.record(db.session, consent_id=cid,
                                     choices={"analytics": bool(i % 2)}, policy_version="1",
                                     language="nb", source="api", max_age_days=365)
            cid = answer["consent_id"]
            results.put(answer["hash"])
        db.engine.dispose()


def test_four_processes_appending_at_once_form_one_chain(app, factory_settings):
    """REQ L-06: concurrent writers from several processes never fork or break the chain."""
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_append_many, args=(factory_settings, start, APPENDS, results))
               for _ in range(PROCESSES)]
    for w in workers:
        w.start()
    start.set()
    acknowledged = set()
    while len(acknowledged) < PROCESSES * APPENDS:
        try:
            acknowledged.add(results.get(timeout=1))
        except queue.Empty:
            assert any(w.is_alive() for w in workers), "a writer died before it finished"
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    with app.app_context():
        result = ledger.verify(db.session)
        assert result.ok, result
        assert result.events == PROCESSES * APPENDS
        stored = set(db.session.execute(select(ConsentEvent.hash)).scalars())
        assert acknowledged == stored  # every acknowledged write is durable, none extra
        seqs = db.session.execute(select(func.min(ConsentEvent.seq),
                                         func.max(ConsentEvent.seq))).one()
        assert tuple(seqs) == (1, PROCESSES * APPENDS)
