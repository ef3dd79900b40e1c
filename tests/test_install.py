"""A fresh install: the schema from nothing, idempotent init-db, and (in CI) the wheel."""
from sqlalchemy import inspect, text

from consent_server.extensions import db


def test_init_db_builds_the_schema_once_and_then_changes_nothing(app_factory, tmp_path):
    fresh = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/fresh.db")
    runner = fresh.test_cli_runner()
    first = runner.invoke(args=["consent", "init-db"])
    assert first.exit_code == 0, first.output
    assert "upgraded from revision none to" in first.output
    with fresh.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"consent_event", "consent_state", "chain_head", "api_key",
                "policy_version"} <= tables
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO api_key (name, role, prefix, secret_hash, created_at) "
                              "VALUES ('kept', 'admin', 'p', 'h', '2026-12-01 00:00:00')"))
    again = runner.invoke(args=["consent", "init-db"])
    assert again.exit_code == 0, again.output
    assert "up to date (revision" in again.output and "upgraded" not in again.output
    with fresh.app_context():
        with db.engine.connect() as conn:  # a second run keeps what was written
            assert conn.execute(text("SELECT name FROM api_key")).scalar_one() == "kept"
        db.engine.dispose()
