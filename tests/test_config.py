"""Configuration: committed defaults, CONSENT_* variables, the secret-key guard."""
import os
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from sqlalchemy import event

from consent_server import create_app, database, gunicorn_conf
from consent_server.extensions import db
from consent_server.ledger.signing import generate


def test_without_a_secret_key_outside_testing_the_server_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("CONSENT_INSTANCE_PATH", str(tmp_path))  # no instance/secret_key either
    monkeypatch.delenv("CONSENT_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="CONSENT_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_without_an_email_hash_key_outside_testing_the_server_refuses_to_start(monkeypatch,
                                                                              tmp_path):
    monkeypatch.setenv("CONSENT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CONSENT_SECRET_KEY", "x")
    monkeypatch.delenv("CONSENT_EMAIL_HASH_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="CONSENT_EMAIL_HASH_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_without_a_signing_key_outside_testing_the_server_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("CONSENT_SECRET_KEY", "x")
    monkeypatch.setenv("CONSENT_EMAIL_HASH_KEY", "y")
    monkeypatch.delenv("CONSENT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("CONSENT_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="CONSENT_SIGNING_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    (tmp_path / "signing_key").write_text(generate())  # what `make run` writes
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).extensions["consent_signing_key"]
    monkeypatch.setenv("CONSENT_SIGNING_KEY", "too-short")
    with pytest.raises(ValueError, match="CONSENT_SIGNING_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_environment_variables_override_defaults(monkeypatch):
    monkeypatch.setenv("CONSENT_SECRET_KEY", "from-env")
    monkeypatch.setenv("CONSENT_EMAIL_HASH_KEY", "email-key-from-env")
    monkeypatch.setenv("CONSENT_SIGNING_KEY", generate())
    monkeypatch.setenv("CONSENT_MAX_AGE_DAYS", "180")
    monkeypatch.setenv("CONSENT_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    monkeypatch.setenv("CONSENT_PUBLIC_URL", "https://consent.example.no")
    monkeypatch.setenv("CONSENT_DATABASE_URL", "postgresql://u@db.example/consent")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["EMAIL_HASH_KEY"] == "email-key-from-env"
    assert app.config["MAX_AGE_DAYS"] == 180
    assert app.config["ALLOWED_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert app.config["PUBLIC_URL"] == "https://consent.example.no"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/consent"


def test_plain_database_url_is_accepted(monkeypatch):
    monkeypatch.setenv("CONSENT_SECRET_KEY", "x")
    monkeypatch.setenv("CONSENT_EMAIL_HASH_KEY", "y")
    monkeypatch.setenv("CONSENT_SIGNING_KEY", generate())
    monkeypatch.delenv("CONSENT_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/consent")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/consent"


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("CONSENT_SECRET_KEY", "x")
    monkeypatch.setenv("CONSENT_EMAIL_HASH_KEY", "y")
    monkeypatch.setenv("CONSENT_SIGNING_KEY", generate())
    monkeypatch.delenv("CONSENT_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("CONSENT_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/inst/consent.db"
    assert (tmp_path / "inst").is_dir()


def test_trusted_proxies_make_x_forwarded_for_count(app_factory, choice, stored_events):
    """Behind one proxy the visitor's address comes from X-Forwarded-For (then truncated)."""
    client = app_factory(TRUSTED_PROXIES=1).test_client()
    resp = client.post("/api/v1/consents", json=choice,
                       headers={"X-Forwarded-For": "203.0.113.9"})
    assert stored_events(resp.json["consent_id"])[0].ip == "203.0.113.0"
    untrusted = app_factory().test_client()
    resp = untrusted.post("/api/v1/consents", json=choice,
                          headers={"X-Forwarded-For": "203.0.113.9"})
    assert stored_events(resp.json["consent_id"])[0].ip == "127.0.0.0"


def test_the_development_servers_access_log_truncates_addresses(app, caplog):
    """REQ S-06: no full client address in the logs (werkzeug's access log under `make run`)."""
    import logging

    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('203.0.113.77 - - [25/Nov/2026 10:00:00] "%s" %s %s',
                                           "GET /privacy HTTP/1.1", "200", "-")
        logging.getLogger("werkzeug").info("2001:db8:1:2::5 - - [x] \"%s\" %s %s", "GET /", 200, 5)
    assert "203.0.113.77" not in caplog.text
    assert '203.0.113.0 - - [25/Nov/2026 10:00:00] "GET /privacy' in caplog.text
    assert "2001:db8:1::" in caplog.text and "::5" not in caplog.text


def test_the_pool_is_sized_from_the_threads_and_keeps_its_connections(app_factory, choice):
    """Issue 17: gunicorn tells the app its threads (CONSENT_THREADS, post_fork); on PostgreSQL
    the pool keeps two connections per thread (a request's reads and its write), so a first
    burst from every thread opens at most that many and later bursts open none: no connection
    is opened and closed per request. Without THREADS (flask run, the CLI) SQLAlchemy's pool."""
    app = app_factory(THREADS=4, RATELIMIT_ENABLED=False)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        assert database.pool_options(str(engine.url), 4) == {}  # one file, no server to open
        return
    assert engine.pool.size() == 8
    with app_factory().app_context():
        assert db.engine.pool.size() == 5  # SQLAlchemy's default
    opened = []
    event.listen(engine, "connect", lambda *_: opened.append(1))

    def burst(_):
        client = app.test_client()
        return [client.post("/api/v1/consents", json=choice).status_code for _ in range(25)]

    for most in (8, 0):
        opened.clear()
        with ThreadPoolExecutor(4) as pool:
            statuses = [s for run in pool.map(burst, range(4)) for s in run]
        assert statuses == [201] * 100
        assert len(opened) <= most


def test_gunicorn_tells_each_worker_its_threads_before_the_app_loads(monkeypatch):
    monkeypatch.setenv("CONSENT_THREADS", "16")
    server = SimpleNamespace(cfg=SimpleNamespace(threads=3))  # as --threads 3 set it
    gunicorn_conf.post_fork(server, worker=None)
    assert os.environ["CONSENT_THREADS"] == "3"


def test_a_witness_key_that_is_not_one_stops_the_start(app_factory):
    """CONSENT_WITNESSES is read at the start (L-10): a wrong key is said then, in one line,
    not found as a 500 when a witness's first cosignature arrives."""
    with pytest.raises(RuntimeError, match="CONSENT_WITNESSES"):
        app_factory(WITNESSES="not-a-key")
