"""Fixtures for the device consents: the banner's usual choice, posting it, recording one
through the service, reading a device's events as the database holds them."""
import pytest
from sqlalchemy import select

from consent_server.consent import devices
from consent_server.extensions import db
from consent_server.models import ConsentEvent


@pytest.fixture
def choice() -> dict:
    """The body of a banner's POST /api/v1/consents: analytics on, marketing off, notice "1"."""
    return {"choices": {"analytics": True, "marketing": False}, "policy_version": "1",
            "language": "nb"}


@pytest.fixture
def post_consent(client, choice):
    """POST a consent (defaults: the `choice` fixture) and return the response."""

    def post(**fields):
        return client.post("/api/v1/consents", json={**choice, **fields})

    return post


@pytest.fixture
def record_device():
    """record_device(**fields): a device's choice through the service, in the app context the
    caller holds (defaults: analytics on, notice "1" in bokmål, from the banner)."""

    def record(**fields):
        return devices.record(db.session, **{
            "choices": {"analytics": True}, "policy_version": "1", "language": "nb",
            "source": "banner", "max_age_days": 365, **fields})

    return record


@pytest.fixture
def stored_events(app):
    """stored_events(consent_id): a device's events as the database holds them (the public
    route shows less), oldest first."""

    def read(consent_id):
        with app.app_context():
            return db.session.execute(select(ConsentEvent).where(
                ConsentEvent.subject == consent_id).order_by(ConsentEvent.seq)).scalars().all()

    return read
