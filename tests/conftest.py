"""Fixtures: the app from the factory on a migrated database (SQLite, or PostgreSQL when
CONSENT_TEST_DATABASE_URL is set), emptied after every test; Debian's Chromium for tests/browser/."""
import os
import shutil
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, text, update

from consent_server import catalogs, create_app

from consent_server.consent import notices
from consent_server.extensions import db
from consent_server.ledger.chain import GENESIS
from consent_server.models import (AccessLogEntry, ApiKey, ChainHead, ConsentEvent,
                                   ConsentState, CustomerBasis, Person, PolicyText,
                                   PolicyVersion, SignInThrottle, StaffUser, utcnow)

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

PG_URL = os.environ.get("CONSENT_TEST_DATABASE_URL")
BROWSER_TESTS = Path(__file__).parent / "browser"
# Debian's chromium (apt-get install chromium), never a browser downloaded by Playwright.
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                        else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
NO_BROWSER = ("playwright (Python) is not installed" if sync_playwright is None
              else "no Chromium: apt-get install chromium" if CHROMIUM is None else None)
SETTINGS = {"TESTING": True, "SECRET_KEY": "test-secret",
            "ALLOWED_ORIGINS": "https://shop.example, https://www.shop.example"}


def pytest_collection_modifyitems(items):
    """Every test in tests/browser/ is marked `browser`, and skips with the reason when there
    is no Playwright or no Chromium (whatever fixtures it uses)."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.browser)
            if NO_BROWSER:
                item.add_marker(pytest.mark.skip(reason=NO_BROWSER))


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright):
    """Headless Chromium, one per test module."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs(tmp_path_factory):
    """The .mo files Flask-Babel reads, compiled from the .po files into a temporary folder
    (tests write nothing into the source tree)."""
    out = tmp_path_factory.mktemp("catalogs")
    catalogs.compile_all(out)
    SETTINGS["BABEL_TRANSLATION_DIRECTORIES"] = str(out)
    return out


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A database built by the migrations, once per test session."""
    url = PG_URL or "sqlite:///" + str(tmp_path_factory.mktemp("db") / "consent.db")
    app = create_app({**SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return url


def make_app(database_url, **overrides):
    return create_app({**SETTINGS, "SQLALCHEMY_DATABASE_URI": database_url, **overrides})


def publish(app, material=False, force=False):
    """Publish the notice as rendered now (version "1" on a fresh database)."""
    with app.app_context():
        return notices.publish(db.session, app.extensions["consent_site"],
                              app.config["LANGUAGES"], utcnow(), material, force)


@pytest.fixture
def app(database_url):
    """The app on an empty ledger, with notice version "1" published."""
    app = make_app(database_url)
    publish(app)
    yield app
    empty_and_close(app)


def empty_and_close(app):
    """Empty every table an app may have written (the next test starts afresh), close its pool."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for model in (CustomerBasis, Person, ConsentEvent, ConsentState, ApiKey, PolicyText,
                          PolicyVersion, AccessLogEntry, SignInThrottle, StaffUser):
                conn.execute(delete(model))
            conn.execute(update(ChainHead).values(seq=0, hash=GENESIS))
        db.engine.dispose()


@pytest.fixture
def app_factory(database_url):
    """Build more apps on the test database (other settings); their engines are closed after."""
    made = []

    def factory(**overrides):
        made.append(make_app(database_url, **overrides))
        return made[-1]

    yield factory
    for extra in made:
        with extra.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client; every request gets a context of its own (its own g and db.session)."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Runs `flask consent ...` commands against the app."""
    return app.test_cli_runner()


CHOICE = {"choices": {"analytics": True, "marketing": False}, "policy_version": "1",
          "language": "nb"}


@pytest.fixture
def post_consent(client):
    """POST a consent (defaults: analytics on, marketing off) and return the response."""

    def post(**fields):
        return client.post("/api/v1/consents", json={**CHOICE, **fields})

    return post
