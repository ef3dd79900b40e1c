"""Fixtures for the staff console: accounts, signing in through the form with its CSRF token,
clients signed in per role, and the access log."""
import re

import pytest
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.models import AccessLogEntry, utcnow
from consent_server.staff import users

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def staff_password() -> str:
    """The password of the accounts these fixtures make."""
    return PASSWORD


@pytest.fixture
def csrf_token():
    """csrf_token(client, url="/console/sign-in"): the CSRF token of the form on a page."""

    def token(client, url="/console/sign-in"):
        resp = client.get(url)
        found = TOKEN.search(resp.get_data(as_text=True))
        assert found, f"no CSRF token on {url} ({resp.status_code})"
        return found.group(1)

    return token


@pytest.fixture
def make_user():
    """make_user(app, email, role, password=the staff password): a staff account; its id."""

    def make(app, email, role, password=PASSWORD):
        with app.app_context():
            return users.create_user(db.session, email, role, password, utcnow()).id

    return make


@pytest.fixture
def sign_in(csrf_token):
    """sign_in(client, email, password=the staff password, **fields): post the sign-in form."""

    def post(client, email, password=PASSWORD, **extra):
        return client.post("/console/sign-in", data={"email": email, "password": password,
                                                      "csrf_token": csrf_token(client), **extra})

    return post


@pytest.fixture
def client_of(sign_in):
    """client_of(app, email): a test client signed in to an existing account."""

    def client(app, email):
        client = app.test_client()
        resp = sign_in(client, email)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return client


@pytest.fixture
def signed_in(make_user, client_of):
    """signed_in(app, email, role): a test client signed in to a new account of a role."""

    def client(app, email, role):
        make_user(app, email, role)
        return client_of(app, email)

    return client


@pytest.fixture
def staff(app, make_user, client_of):
    """One account per role (role@example.com); staff(role) gives a client signed in to it."""
    for role in ("marketing", "auditor", "admin"):
        make_user(app, f"{role}@example.com", role)
    return lambda role: client_of(app, f"{role}@example.com")


@pytest.fixture
def assert_only_for(signed_in):
    """assert_only_for(app, url, allowed, refused): signed out, a redirect to the sign-in; a
    role of refused, 403; one of allowed, 200."""

    def check(app, url, allowed, refused):
        assert app.test_client().get(url).status_code == 302
        for role, status in [(role, 200) for role in allowed] + [(role, 403) for role in refused]:
            assert signed_in(app, f"{role}@example.com", role).get(url).status_code == status, (
                role, url)

    return check


@pytest.fixture
def access_log():
    """access_log(app, action): (detail, rows) of the access log's entries of an action."""

    def entries(app, action):
        with app.app_context():
            return [(e.detail, e.rows) for e in db.session.execute(
                select(AccessLogEntry).where(AccessLogEntry.action == action)).scalars()]

    return entries
