"""Backups that restore (REQ S-08, L-06, L-07): on SQLite, a backup taken while writers run is
restored into an empty database where `verify` and `verify --checkpoint` pass and every consent
acknowledged before the backup began is found; on PostgreSQL, the README's pg_dump recipe, run
as written, restores into a second database that verifies."""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from consent_server.extensions import db
from consent_server.ledger.signing import generate
from consent_server.models import ConsentEvent

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("CONSENT_TEST_DATABASE_URL")
SQLITE_ONLY = pytest.mark.skipif(bool(PG_URL), reason="SQLite's online backup API; on "
                                 "PostgreSQL the pg_dump recipe is tested instead")
PG_ONLY = pytest.mark.skipif(not PG_URL, reason="PostgreSQL: set CONSENT_TEST_DATABASE_URL")


def event_ids(app) -> set[str]:
    with app.app_context():
        return set(db.session.execute(select(ConsentEvent.event_id)).scalars())


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["consent", *args])


@SQLITE_ONLY
def test_a_backup_under_load_restores_and_verifies(app, app_factory, choice, tmp_path):
    acked: list[str] = []
    stop = threading.Event()
    failures: list[str] = []

    def writer(n: int):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n}"
        while not stop.is_set():
            answer = client.post("/api/v1/consents", json=choice)
            if answer.status_code == 201:
                acked.append(answer.json["event_id"])
            else:
                failures.append(f"{answer.status_code} {answer.get_data(as_text=True)[:200]}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        while len(acked) < 20:
            stop.wait(0.05)
        checkpoint = tmp_path / "checkpoint.json"
        assert cli(app, "checkpoint", "--out", str(checkpoint)).exit_code == 0
        while len(acked) < 40:
            stop.wait(0.05)
        before_backup = set(acked)  # acknowledged before the backup began
        backup = tmp_path / "backup.db"
        made = cli(app, "backup", "--out", str(backup))
        during = len(acked) - len(before_backup)
        while len(acked) < len(before_backup) + during + 10:  # the load goes on after it
            stop.wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:3]
    assert made.exit_code == 0, made.output
    assert "integrity ok" in made.output and oct(backup.stat().st_mode)[-3:] == "600"

    restored = app_factory(SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "new.db"))
    done = cli(restored, "restore", str(backup))
    assert done.exit_code == 0, done.output
    assert cli(restored, "init-db").exit_code == 0
    verified = cli(restored, "verify")
    assert verified.exit_code == 0 and verified.output.startswith("ok:"), verified.output
    extended = cli(restored, "verify", "--checkpoint", str(checkpoint))
    assert extended.exit_code == 0 and "extends the checkpoint" in extended.output
    found = event_ids(restored)
    assert before_backup <= found, f"{len(before_backup - found)} acknowledged events missing"
    assert found <= set(acked) | event_ids(app)  # nothing invented
    assert len(found) < len(event_ids(app))  # the load went on after the snapshot


@SQLITE_ONLY
def test_restore_refuses_a_database_that_holds_data_and_a_file_that_is_none(
        app, post_consent, tmp_path):
    post_consent()
    backup = tmp_path / "backup.db"
    assert cli(app, "backup", "--out", str(backup)).exit_code == 0
    again = cli(app, "backup", "--out", str(backup))
    assert again.exit_code == 1 and "exists" in again.output
    refused = cli(app, "restore", str(backup))
    assert refused.exit_code == 1 and "not empty" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert cli(app, "restore", str(junk)).exit_code == 1


@PG_ONLY
def test_on_postgresql_backup_and_restore_point_to_the_pg_dump_recipe(app, tmp_path):
    for args in (("backup", "--out", str(tmp_path / "x.db")), ("restore", __file__)):
        refused = cli(app, *args)
        assert refused.exit_code == 1 and "pg_dump" in refused.output, refused.output


def _recipe() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"<!-- pg-backup -->\n```sh\n(.*?)```", readme, re.S).group(1)


@PG_ONLY
@pytest.mark.skipif(not shutil.which("pg_dump"), reason="pg_dump and pg_restore not installed")
def test_the_readmes_pg_dump_recipe_restores_a_second_database_that_verifies(
        app, post_consent, tmp_path):
    acked = {post_consent().json["event_id"] for _ in range(12)}
    live = make_url(PG_URL).set(drivername="postgresql")
    restore_name = f"{live.database}_restore"
    admin = create_engine(live.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{restore_name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{restore_name}"'))  # `createdb`, as the README says
    admin.dispose()
    restore_url = live.set(database=restore_name).render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update({"DATABASE_URL": live.render_as_string(hide_password=False),
                "RESTORE_URL": restore_url, "BACKUP": str(tmp_path / "consent.dump"),
                "FLASK_APP": str(ROOT / "wsgi.py"), "CONSENT_SECRET_KEY": "drill",
                "CONSENT_EMAIL_HASH_KEY": "drill", "CONSENT_SIGNING_KEY": generate(),
                "CONSENT_INSTANCE_PATH": str(tmp_path / "instance"),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", _recipe()], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "extends the checkpoint" in run.stdout
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    restored = create_engine(live.set(drivername="postgresql+psycopg", database=restore_name))
    with restored.connect() as conn:
        found = set(conn.execute(select(ConsentEvent.event_id)).scalars())
    restored.dispose()
    assert acked <= found and checkpoint["seq"] >= len(acked)
