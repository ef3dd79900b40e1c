"""Property tests for the ledger (hypothesis): any sequence of grants, updates, withdrawals,
erasures and expiries verifies, and any single-field edit of any stored event is caught at its
sequence number (L-02, L-06)."""
from datetime import timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from consent_server import ledger
from consent_server.consent import devices
from consent_server.extensions import db
from consent_server.ledger.chain import GENESIS
from consent_server.models import ChainHead, ConsentEvent, ConsentState, TreeNode, utcnow

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
CHOICES = st.fixed_dictionaries({}, optional={"analytics": st.booleans(),
                                              "marketing": st.booleans()})
AGENTS = st.none() | st.sampled_from(["Phone/1", "Laptop/2 (X11)", "æøå/3"])
ADDRESSES = st.none() | st.sampled_from(["192.0.2.10", "2001:db8:9::1", "not an address"])
# (what, which device by index, choices, gpc, ip, user agent)
OPERATIONS = st.lists(st.tuples(st.sampled_from(["new", "record", "record", "erase", "expire"]),
                                st.integers(0, 5), CHOICES, st.booleans(), ADDRESSES, AGENTS),
                      min_size=1, max_size=12)


def _reset():
    """An empty ledger (the notice versions stay), between hypothesis examples."""
    db.session.remove()
    with db.engine.begin() as conn:
        conn.execute(delete(ConsentEvent))
        conn.execute(delete(ConsentState))
        conn.execute(delete(TreeNode))
        conn.execute(update(ChainHead).values(seq=0, hash=GENESIS, prev_hash=None))


def _apply(operations) -> int:
    """Run the operations through the services; returns how many events they appended."""
    known: list[str] = []
    now = utcnow()
    for what, index, choices, gpc, ip, agent in operations:
        target = known[index % len(known)] if known else None
        if what == "new" or target is None:
            answer = devices.record(db.session, choices=choices, policy_version="1",
                                     language="nb", source="banner", max_age_days=365, gpc=gpc,
                                     ip=ip, user_agent=agent)
            known.append(answer["consent_id"])
        elif what == "record":
            answer = devices.record(db.session, choices=choices, policy_version="1",
                                     language="en", source="preferences", max_age_days=365,
                                     consent_id=target, gpc=gpc, ip=ip, user_agent=agent)
            known.append(answer["consent_id"])  # a new one when target was erased
        elif what == "erase":
            devices.erase(db.session, target, 365)
        else:
            now += timedelta(days=400)
            devices.purge_expired(db.session, 365, now)
    return ledger.verify(db.session).events


@given(operations=OPERATIONS)
@SETTINGS
def test_any_sequence_of_operations_verifies(app, operations):
    """REQ L-02: whatever the services did, in whatever order, the chain verifies, ends at
    the head, and every state row names its subject's last event."""
    with app.app_context():
        _reset()
        events = _apply(operations)
        result = ledger.verify(db.session)
        assert result.ok, result
        assert result.events == result.head_seq == events
        last = {}
        for row in db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)).scalars():
            last[row.subject] = row
        states = db.session.execute(select(ConsentState)).scalars().all()
        assert {s.subject: (s.seq, s.hash) for s in states} == \
            {k: (v.seq, v.hash) for k, v in last.items()}


TEXT_FIELDS = ("event_id", "subject_type", "subject", "action", "choices", "policy_version",
               "language", "text_hash", "source", "ip", "user_agent", "pii_salt", "ip_digest",
               "ua_digest", "prev_hash", "hash")
SHORT = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=8)


@given(operations=OPERATIONS, pick=st.integers(0, 10_000),
       field=st.sampled_from(TEXT_FIELDS + ("gpc", "recorded_at")), value=SHORT,
       shift=st.integers(1, 10**8))
@SETTINGS
def test_any_single_field_edit_is_caught_at_its_seq(app, operations, pick, field, value, shift):
    """REQ L-02: change one field of one stored event, any field of any event, to anything
    else: verify fails and names that event's sequence number."""
    with app.app_context():
        _reset()
        events = _apply(operations)
        seq = pick % events + 1
        row = db.session.execute(select(ConsentEvent.__table__)
                                 .where(ConsentEvent.seq == seq)).mappings().one()
        # The salt is outside the hash (ledger v2): it only matters beside a personal value.
        assume(field != "pii_salt" or row["ip"] is not None or row["user_agent"] is not None)
        if field == "gpc":
            new = not row["gpc"]
        elif field == "recorded_at":
            new = row["recorded_at"] + timedelta(microseconds=shift)
        else:
            new = value if value != row[field] else value + "x"
        db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == seq)
                           .values({field: new}))
        db.session.commit()
        result = ledger.verify(db.session)
        assert not result.ok and result.first_bad_seq == seq, (field, result)
