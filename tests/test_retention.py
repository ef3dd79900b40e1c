"""Retention (L-05): purge-expired erases the personal data of consents that ended more than
CONSENT_RETENTION_DAYS ago; the hashed ledger stays and verifies."""
from datetime import timedelta

from sqlalchemy import select, update

from consent_server import consents, ledger
from consent_server.extensions import db
from consent_server.models import ConsentEvent, ConsentState, utcnow


def _device(**fields):
    return consents.record(db.session, choices={"analytics": True}, policy_version="1",
                           language="nb", source="banner", max_age_days=365, ip="192.0.2.44",
                           user_agent="Phone/9", **fields)["consent_id"]


def _age(consent_id, days):
    db.session.execute(update(ConsentState).where(ConsentState.subject == consent_id)
                       .values(recorded_at=utcnow() - timedelta(days=days)))
    db.session.commit()


def test_the_default_is_the_max_age_plus_three_years(app, app_factory):
    """REQ L-05: CONSENT_RETENTION_DAYS defaults to the max age plus 3 years."""
    assert app.config["RETENTION_DAYS"] == 365 + 1096
    assert app_factory(MAX_AGE_DAYS="30").config["RETENTION_DAYS"] == 30 + 1096
    assert app_factory(RETENTION_DAYS="2000").config["RETENTION_DAYS"] == 2000


def test_ended_consents_past_retention_lose_their_personal_data(app, runner):
    """REQ L-05: a consent that expired or was withdrawn more than CONSENT_RETENTION_DAYS ago
    gets an erase event by the system and no IP or user agent anywhere; a consent still
    running, or one that ended recently, keeps them; the ledger verifies."""
    with app.app_context():
        withdrawn_old = _device()
        consents.record(db.session, choices={}, policy_version="1", language="nb",
                        source="banner", max_age_days=365, consent_id=withdrawn_old)
        _age(withdrawn_old, 1500)
        expired_old = _device()
        _age(expired_old, 1400)  # expired by this run: its retention starts now
        withdrawn_recent = _device()
        consents.record(db.session, choices={}, policy_version="1", language="nb",
                        source="banner", max_age_days=365, consent_id=withdrawn_recent)
        _age(withdrawn_recent, 30)
        running_old = _device()
        _age(running_old, 300)  # still within its max age
        lapsed = _device()
        _age(lapsed, 1900)  # never renewed: ended 1535 days ago, at its max age
    result = runner.invoke(args=["consent", "purge-expired"])
    assert result.exit_code == 0, result.output
    assert "expired 1 consents" in result.output
    assert "erased the personal data of 2 consents" in result.output
    with app.app_context():
        events = db.session.execute(select(ConsentEvent).where(
            ConsentEvent.subject == withdrawn_old).order_by(ConsentEvent.seq)).scalars().all()
        assert [e.action for e in events] == ["grant", "withdraw", "erase"]
        assert events[-1].source == "system"
        assert all(e.ip is None and e.user_agent is None for e in events)
        assert events[0].ip_digest and events[0].ua_digest  # the hashed ledger stays
        assert db.session.get(ConsentState, withdrawn_old).ip is None
        assert consents.current(db.session, lapsed, 365)["erased"] is True
        for kept in (expired_old, withdrawn_recent, running_old):
            assert db.session.get(ConsentState, kept).action != "erase"
            first = db.session.execute(select(ConsentEvent).where(ConsentEvent.subject == kept)
                                       .order_by(ConsentEvent.seq)).scalars().first()
            assert (first.ip, first.user_agent) == ("192.0.2.0", "Phone/9")
        assert ledger.verify(db.session).ok
    again = runner.invoke(args=["consent", "purge-expired"])
    assert "erased the personal data of 0 consents" in again.output


def test_retention_is_configurable(app, app_factory):
    """REQ L-05: CONSENT_RETENTION_DAYS moves the cutoff."""
    short = app_factory(RETENTION_DAYS="10")
    with short.app_context():
        consent_id = _device()
        consents.record(db.session, choices={}, policy_version="1", language="nb",
                        source="banner", max_age_days=365, consent_id=consent_id)
        _age(consent_id, 11)
    result = short.test_cli_runner().invoke(args=["consent", "purge-expired"])
    assert "erased the personal data of 1 consents that ended over 10 days ago" in result.output
    with short.app_context():
        assert consents.current(db.session, consent_id, 365)["erased"] is True
        assert ledger.verify(db.session).ok
