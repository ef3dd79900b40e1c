"""The app from the factory on a migrated database (SQLite, or PostgreSQL when
CONSENT_TEST_DATABASE_URL is set), emptied after every test. pytest-flask's fixtures (`client`,
`config`, `live_server`, `accept_json` ...) take it from the `app` fixture here; the shared
helpers are fixtures too, in the plugin modules named below (no test module imports another)."""
import os

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import delete, text, update

from consent_server import catalogs, create_app
from consent_server.consent import notices
from consent_server.extensions import db
from consent_server.ledger.chain import GENESIS
from consent_server.models import (
    AccessLogEntry,
    ApiKey,
    ChainHead,
    ConsentEvent,
    ConsentState,
    CustomerBasis,
    Person,
    PolicyText,
    PolicyVersion,
    SigningKeyRecord,
    SignInThrottle,
    StaffUser,
    TreeCosignature,
    TreeNode,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)

pytest_plugins = ["fixtures_consents", "fixtures_people", "fixtures_staff", "fixtures_audit",
                  "fixtures_servers", "fixtures_browser", "fixtures_sites"]

PG_URL = os.environ.get("CONSENT_TEST_DATABASE_URL")
SETTINGS = {"TESTING": True, "SECRET_KEY": "test-secret",
            "ALLOWED_ORIGINS": "https://shop.example, https://www.shop.example"}


class FreshContextClient(FlaskClient):
    """A test client whose every request runs in an app context of its own.

    pytest-flask pushes a request context for every test that uses `app`, and Flask 3.1 lets a
    request reuse the app context it finds: all requests of a test would share one `g` and one
    `db.session` (Flask-Login's cached user, Flask-Babel's cached locale and the session's
    identity map would leak from one request into the next). Here each request gets a fresh
    app context, torn down when the request ends, as under a real server."""

    def open(self, *args, **kwargs):
        # A request's contexts end with it; kept past it (a `with client:` block, as
        # pytest-flask's `client` fixture opens) they would outlive the fresh app context.
        preserve, self.preserve_context = self.preserve_context, False
        try:
            with self.application.app_context():
                return super().open(*args, **kwargs)
        finally:
            self.preserve_context = preserve


class FreshContextRunner(FlaskCliRunner):
    """A CLI runner whose every command runs in an app context of its own, as under `flask`.

    Flask's commands use the app context they find: under pytest-flask's pushed context a
    command of another app (from `app_factory`) would run in the `app` fixture's app, with its
    settings."""

    def invoke(self, cli=None, args=None, **kwargs):
        with self.app.app_context():
            return super().invoke(cli, args, **kwargs)


def make_app(settings: dict):
    """The app from the factory, with the test client and CLI runner classes above."""
    app = create_app(settings)
    app.test_client_class = FreshContextClient
    app.test_cli_runner_class = FreshContextRunner
    return app


def publish_notice(app, material=False, force=False):
    """Publish the notice as rendered now (version "1" on a fresh database); None when the text
    is unchanged and not forced."""
    with app.app_context():
        return notices.publish(db.session, app.extensions["consent_site"],
                               app.config["LANGUAGES"], utcnow(), material, force)


def empty_and_close(app):
    """Empty every table an app may have written (the next test starts afresh), close its pool."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for model in (WebhookDelivery, WebhookEndpoint, CustomerBasis, Person,
                          ConsentEvent, ConsentState, ApiKey, PolicyText, PolicyVersion,
                          AccessLogEntry, SignInThrottle, StaffUser, SigningKeyRecord,
                          TreeNode, TreeCosignature):
                conn.execute(delete(model))
            conn.execute(update(ChainHead).values(seq=0, hash=GENESIS))
        db.engine.dispose()


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


@pytest.fixture
def factory_settings(database_url) -> dict:
    """What the tests give create_app: the test defaults on the test database (a copy; a
    process of its own can build the app from it)."""
    return {**SETTINGS, "SQLALCHEMY_DATABASE_URI": database_url}


@pytest.fixture
def app_settings() -> dict:
    """Settings of the `app` fixture on top of the test defaults: none here; a test module
    overrides this fixture for all its tests (mail through the test SMTP server, a live
    server's address)."""
    return {}


@pytest.fixture
def app(factory_settings, app_settings):
    """The app on an empty ledger, with notice version "1" published."""
    app = make_app({**factory_settings, **app_settings})
    publish_notice(app)
    yield app
    empty_and_close(app)


@pytest.fixture
def app_factory(app, factory_settings):
    """Build more apps on the test database (other settings; the `app` fixture publishes the
    notice and empties the tables after); their engines are closed after."""
    made = []

    def factory(**overrides):
        made.append(make_app({**factory_settings, **overrides}))
        return made[-1]

    yield factory
    for extra in made:
        with extra.app_context():
            db.engine.dispose()


@pytest.fixture
def publish():
    """publish(app, material=False, force=False): publish the notice as rendered now."""
    return publish_notice


@pytest.fixture
def runner(app):
    """Runs `flask consent ...` commands against the app."""
    return app.test_cli_runner()
