"""What an erasure leaves behind on disk (issue 19, item 8): nothing of the erased address, user
agent or network in the SQLite database's files (main, -wal, -shm) or in the mail outbox."""
import email
import re
import sqlite3
import uuid
from email import policy
from pathlib import Path

import pytest

AGENT = "Mozilla/5.0 (TraceProbe {})"
ADDRESS = "203.0.113.77"  # stored as its /24, 203.0.113.0


def _mails(outbox: Path) -> list:
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)]


def _link(message, kind: str) -> str:
    text = message.get_body(("plain",)).get_content()
    found = re.search(r"https?://[^/\s]+(/[\w/]*" + kind + r"/[\w.\-]+)", text)
    assert found, text
    return found.group(1)


@pytest.fixture
def fresh(app_factory, tmp_path):
    """An app on a SQLite database of its own (so its files can be read) whose mails go to an
    outbox folder, built and published through the CLI."""
    made = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/db/consent.db",
                       MAIL_OUTBOX=str(tmp_path / "outbox"), SMTP_HOST=None)
    (tmp_path / "db").mkdir()
    runner = made.test_cli_runner()
    for command in (["consent", "init-db"], ["consent", "publish-policy"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    return made


def test_an_erased_person_and_device_leave_nothing_in_the_database_files_or_outbox(
        fresh, tmp_path, choice, signup):
    """REQ R-02: after a person erases themselves from their own page and a device is erased,
    no byte of the address, the user agent or the /24 is left in consent.db, its -wal and -shm
    (checkpointed with TRUNCATE, secure_delete on) or in the outbox (the person's mails
    deleted)."""
    probe = uuid.uuid4().hex
    address, agent = f"trace.{probe}@example.no", AGENT.format(probe)
    client = fresh.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": ADDRESS})
    consent_id = client.post("/api/v1/consents", json=choice).json["consent_id"]
    resp = client.post("/api/v1/subscriptions", json={**signup, "email": address,
                                                      "consent_id": consent_id})
    assert resp.status_code == 202
    outbox = tmp_path / "outbox"
    assert client.post(_link(_mails(outbox)[-1], "confirm")).status_code == 200
    assert client.post("/api/v1/subscriptions/access", json={"email": address}).status_code == 202
    me = _link(_mails(outbox)[-1], "me")
    assert len(_mails(outbox)) == 2
    files = [*(tmp_path / "db").iterdir(), *outbox.iterdir()]
    assert any(address.encode() in path.read_bytes() for path in files)  # the probe works
    with sqlite3.connect(tmp_path / "db" / "consent.db") as db:  # as SQLite's auto-checkpoint
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # would: the pages in the main file now
    db.close()

    assert client.post(me + "/erase", data={"confirmed": "1"}).status_code == 200
    assert client.delete(f"/api/v1/consents/{consent_id}").status_code == 200
    assert not list(outbox.glob("*.eml"))
    for path in [*(tmp_path / "db").iterdir(), *outbox.iterdir()]:
        data = path.read_bytes()
        for value in (address, f"trace.{probe}", probe, "203.0.113."):
            assert value.encode() not in data, (path.name, value)
