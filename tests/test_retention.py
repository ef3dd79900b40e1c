"""Retention (L-05): purge-expired erases the personal data of consents that ended more than
CONSENT_RETENTION_DAYS ago; the hashed ledger stays and verifies."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from consent_server import ledger
from consent_server.consent import devices
from consent_server.extensions import db
from consent_server.models import ConsentEvent, ConsentState, utcnow


@pytest.fixture
def device(record_device):
    """device(): a new device's consent id, its address and user agent stored."""
    return lambda: record_device(ip="192.0.2.44", user_agent="Phone/9")["consent_id"]


@pytest.fixture
def withdraw(record_device):
    """withdraw(consent_id): every optional purpose off."""
    return lambda consent_id: record_device(choices={}, consent_id=consent_id)


def test_the_default_is_the_max_age_plus_three_years(app, app_factory):
    """REQ L-05: CONSENT_RETENTION_DAYS defaults to the max age plus 3 years."""
    assert app.config["RETENTION_DAYS"] == 365 + 1096
    assert app_factory(MAX_AGE_DAYS="30").config["RETENTION_DAYS"] == 30 + 1096
    assert app_factory(RETENTION_DAYS="2000").config["RETENTION_DAYS"] == 2000


def _first_event(consent_id):
    return db.session.execute(select(ConsentEvent).where(ConsentEvent.subject == consent_id)
                              .order_by(ConsentEvent.seq)).scalars().first()


def test_ended_consents_past_retention_lose_their_personal_data(app, device, withdraw):
    """REQ L-05: a consent that was withdrawn, expired, or lapsed at its max age more than
    retention days ago gets an erase event by the system and no IP or user agent anywhere
    (the hashed ledger stays); one still running, or that ended more recently, keeps them;
    the ledger and the state verify."""
    with app.app_context():
        start = utcnow()
        expired = device()
        devices.purge_expired(db.session, 365, start + timedelta(days=400))  # ends it then
        withdrawn = device()
        withdraw(withdrawn)
        lapsed = device()  # never renewed, never expired by a purge: ended at its max age
        assert devices.erase_ended(db.session, 1461, 365, start + timedelta(days=1400)) == 0
        assert devices.erase_ended(db.session, 1461, 365, start + timedelta(days=1500)) == 1
        events = db.session.execute(select(ConsentEvent).where(
            ConsentEvent.subject == withdrawn).order_by(ConsentEvent.seq)).scalars().all()
        assert [e.action for e in events] == ["grant", "withdraw", "erase"]
        assert events[-1].source == "system"
        assert all(e.ip is None and e.user_agent is None for e in events)
        assert events[0].ip_digest and events[0].ua_digest  # the hashed ledger stays
        assert db.session.get(ConsentState, withdrawn).ip is None
        for kept in (expired, lapsed):
            assert db.session.get(ConsentState, kept).action != "erase"
            assert (_first_event(kept).ip, _first_event(kept).user_agent) == \
                ("192.0.2.0", "Phone/9")
        assert ledger.verify(db.session).ok
        assert devices.erase_ended(db.session, 1461, 365, start + timedelta(days=1900)) == 2
        for gone in (expired, lapsed):
            assert devices.current(db.session, gone, 365)["erased"] is True
        assert ledger.verify(db.session).ok


def test_purge_expired_applies_retention_from_the_settings(app, app_factory, device, withdraw):
    """REQ L-05: the command erases by CONSENT_RETENTION_DAYS, then expires; it says both."""
    short = app_factory(RETENTION_DAYS="-1", MAX_AGE_DAYS="-1")  # everything ended "long ago"
    with short.app_context():
        withdrawn = device()
        withdraw(withdrawn)
    result = short.test_cli_runner().invoke(args=["consent", "purge-expired"])
    assert result.exit_code == 0, result.output
    assert "erased the personal data of 1 consents that ended over -1 days ago" in result.output
    with short.app_context():
        assert devices.current(db.session, withdrawn, 365)["erased"] is True
        assert ledger.verify(db.session).ok
    again = app.test_cli_runner().invoke(args=["consent", "purge-expired"])
    assert "erased the personal data of 0 consents that ended over 1461 days ago" in again.output
