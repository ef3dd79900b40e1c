"""Retention of people's addresses (REQ R-05): `purge-expired` clears an address
CONSENT_PERSON_RETENTION_DAYS after its last purpose ended, and a sign-up never confirmed after
its link expired plus that time; the keyed hash and the events stay."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from consent_server import ledger
from consent_server.extensions import db
from consent_server.models import ConsentEvent, ConsentState, Person, utcnow
from consent_server.people import retention
from consent_server.people.marketing import months_before

TODAY = utcnow().date()


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


@pytest.fixture
def people(client, smtp, api_key, confirmed, sign_up, access_link):
    """Everyone whose address retention must keep or clear, as they come about; returns the
    marketing key."""
    key = api_key()
    confirmed(client, smtp, "aktiv@example.no")                      # consent: kept
    assert sign_up(client, "venter@example.no").status_code == 202   # pending: link expires
    confirmed(client, smtp, "trakk@example.no")
    client.post(access_link(client, smtp, "trakk@example.no"), data={})  # withdrew everything
    sales = [{"email": "kunde@example.no", "sale_date": months_before(TODAY, 1).isoformat()},
             {"email": "gammel@example.no", "sale_date": months_before(TODAY, 30).isoformat()},
             {"email": "nei@example.no", "sale_date": months_before(TODAY, 1).isoformat()}]
    response = client.post("/api/v1/marketing/customers", headers=key, json={"customers": [
        {**sale, "product_category": "sko", "opt_out_offered": True} for sale in sales]})
    assert response.status_code == 201
    client.post(access_link(client, smtp, "nei@example.no") + "/object")  # objected customer
    return key


def held(app) -> set[str]:
    with app.app_context():
        return {p.email for p in db.session.execute(select(Person)).scalars() if p.email}


def test_nothing_is_cleared_before_its_time(app, people, runner):
    """Withdrawn and objected today, a sign-up of today: kept for 30 days (the default)."""
    result = runner.invoke(args=["consent", "purge-expired"])
    assert result.exit_code == 0 and "cleared 1 addresses" in result.output, result.output
    # only the customer whose basis lapsed (30 months after the sale, 6 past 24) is cleared
    assert held(app) == {"aktiv@example.no", "venter@example.no", "trakk@example.no",
                         "kunde@example.no", "nei@example.no"}


def test_ended_purposes_and_expired_sign_ups_are_cleared_after_the_retention(
        app, client, people, runner, check, config):
    """REQ R-05: with the clock 33 days on (30 days after the 48-hour link), every address
    whose last purpose ended is cleared, as a `system` erase event; consent and a current
    customer basis keep theirs; the cleared stay suppressed and the chain verifies."""
    now = utcnow() + timedelta(days=33)
    with app.app_context():
        cleared = retention.purge(db.session, now, 30, config["CONFIRM_MAX_AGE_HOURS"], 24)
        assert cleared == 4
    assert held(app) == {"aktiv@example.no", "kunde@example.no"}
    assert check(client, people, "newsletter", ["venter@example.no", "trakk@example.no"]) == [
        ("denied", "erased")] * 2
    assert check(client, people, "marketing", ["nei@example.no", "gammel@example.no"],
                 product_category="sko") == [("denied", "erased")] * 2
    with app.app_context():
        erases = db.session.execute(select(ConsentEvent).where(
            ConsentEvent.action == "erase")).scalars().all()
        assert len(erases) == 4 and {e.source for e in erases} == {"system"}
        assert ledger.verify(db.session).ok
        assert db.session.execute(select(ConsentState)).first() is not None


def test_a_sign_up_waits_for_its_link_and_the_retention(app, client, smtp, sign_up, config):
    """The unconfirmed sign-up is kept while its link works and `days` after."""
    assert sign_up(client, "venter@example.no").status_code == 202
    hours = config["CONFIRM_MAX_AGE_HOURS"]
    with app.app_context():
        start = db.session.execute(select(Person.signup_at)).scalar_one()
        assert retention.purge(db.session, start + timedelta(hours=hours, days=2), 3, hours,
                               24) == 0
        assert retention.purge(db.session, start + timedelta(hours=hours, days=3), 3, hours,
                               24) == 1


def test_purge_expired_reads_the_retention_from_the_settings(app, app_factory, client, smtp,
                                                             confirmed, access_link):
    confirmed(client, smtp, "trakk@example.no")
    client.post(access_link(client, smtp, "trakk@example.no"), data={})
    with app.app_context():  # withdrew two days ago
        two_days = (utcnow() - timedelta(days=2)).isoformat().replace("+00:00", "Z")
        db.session.execute(update(Person).values(withdrawn=f'{{"newsletter":"{two_days}"}}'))
        db.session.execute(update(ConsentState).values(recorded_at=utcnow() - timedelta(days=2)))
        db.session.commit()
    short = app_factory(PERSON_RETENTION_DAYS=3)
    assert "cleared 0 addresses" in short.test_cli_runner().invoke(
        args=["consent", "purge-expired"]).output
    shorter = app_factory(PERSON_RETENTION_DAYS=1)
    assert "cleared 1 addresses" in shorter.test_cli_runner().invoke(
        args=["consent", "purge-expired"]).output
    assert held(app) == set()
