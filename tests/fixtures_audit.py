"""Fixtures for the auditor's side: an auditor's API key, a ledger seeded with every kind of
event, the README's offline verifier, and the version 1 ledger of tests/data/."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update

from consent_server import ledger
from consent_server.consent import devices
from consent_server.extensions import db
from consent_server.ledger import chain, treestore
from consent_server.models import ChainHead, ConsentEvent
from consent_server.people import addresses
from consent_server.staff import keys

README = Path(__file__).resolve().parent.parent / "README.md"
LOG_VERIFIER = README.parent / "docs" / "verify_log.py"
NASTY_UA = 'Mozilla/5.0 (X11; "quoted", comma,\nnew line; æøå)\r\nend'
PERSON_EMAIL = "Kari.Nordmann@Example.NO"


@pytest.fixture
def auditor_key(app) -> dict:
    """The Authorization header of a new API key of the auditor's role."""
    with app.app_context():
        return {"Authorization": "Bearer " + keys.create_key(db.session, "dpo", "auditor")[1]}


@pytest.fixture
def nasty_user_agent() -> str:
    """The user agent `seed` gives its first device: quotes, commas, newlines, æøå."""
    return NASTY_UA


@pytest.fixture
def person_email() -> str:
    """The address of the person `seed` records (as typed: mixed case)."""
    return PERSON_EMAIL


@pytest.fixture
def seed(record_device):
    """seed(app): devices (one erased, one with a nasty user agent) and a person with basis and
    details; returns (first device's consent id, erased device's, person's subject)."""

    def fill(app):
        with app.app_context():
            a = record_device(user_agent=NASTY_UA, ip="192.0.2.9")
            record_device(consent_id=a["consent_id"], choices={"analytics": False},
                          user_agent=NASTY_UA, ip="192.0.2.9")
            b = record_device(choices={"analytics": True, "marketing": True},
                              user_agent="Plain/1.0", ip="192.0.2.9")
            devices.erase(db.session, b["consent_id"], 365)
            person = addresses.subject_hash(app.config["EMAIL_HASH_KEY"], PERSON_EMAIL)
            ledger.append(db.session, ledger.new_event(
                subject=person, subject_type="person", action="grant",
                choices={"newsletter": True, "marketing": False}, policy_version="1",
                language="en", text_hash=None, source="signup", basis="consent",
                details={"signup_at": "2026-12-01T10:00:00Z"}))
            return a["consent_id"], b["consent_id"], person

    return fill


@pytest.fixture
def readme() -> Path:
    """The checkout's README.md, whose snippets the tests run."""
    return README


class OfflineVerifier:
    """The README's stdlib-only verifier of an export (and a checkpoint): its source, and a run
    of it in a Python without site-packages."""

    def __init__(self, readme: Path):
        match = re.search(r"<!-- offline-verify -->\n```python\n(.*?)```", readme.read_text(),
                          re.S)
        self.source = match.group(1)

    def __call__(self, tmp_path: Path, *files) -> subprocess.CompletedProcess:
        script = tmp_path / "verify_export.py"
        script.write_text(self.source)
        # -I -S: no site-packages, so the snippet can only use the standard library
        return subprocess.run([sys.executable, "-I", "-S", str(script), *map(str, files)],
                              capture_output=True, text=True, timeout=60)


@pytest.fixture
def run_snippet(readme):
    """run_snippet(tmp_path, *files): the README's offline verifier run on the files (its
    CompletedProcess); run_snippet.source is the snippet itself."""
    return OfflineVerifier(readme)


@pytest.fixture
def verified_offline(app, run_snippet, tmp_path):
    """verified_offline(body): write an NDJSON export, check that the README's verifier accepts
    it and says what the ledger's own verify says."""

    def check(body: str):
        path = tmp_path / "events.ndjson"
        path.write_text(body, encoding="utf-8")
        done = run_snippet(tmp_path, path)
        assert done.returncode == 0, done.stderr
        with app.app_context():
            head = ledger.verify(db.session)
        assert done.stdout.strip() == f"ok: {head.events} events, head {head.head}"
        return head

    return check


@pytest.fixture
def run_log_verifier():
    """run_log_verifier(*args): docs/verify_log.py (the README's offline log verifier) run in a
    Python without site-packages; its CompletedProcess."""

    def run(*args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-I", "-S", str(LOG_VERIFIER), *map(str, args)],
                              capture_output=True, text=True, timeout=60)

    return run


@pytest.fixture
def rewrite_history(app):
    """rewrite_history(from_seq): what an operator with the database could do: give an old
    event marketing consent, recompute every hash after it and the head, rebuild the state and
    the Merkle tree."""

    def rewrite(from_seq: int):
        with app.app_context():
            rows = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)
                                      ).scalars().all()
            prev = rows[from_seq - 2].hash if from_seq > 1 else chain.GENESIS
            for row in rows[from_seq - 1:]:
                if row.seq == from_seq:
                    row.choices = chain.canonical({**json.loads(row.choices),
                                                   "marketing": True}).decode()
                row.prev_hash = prev
                fields = {c.name: getattr(row, c.name) for c in ConsentEvent.__table__.columns}
                row.hash = prev = chain.event_hash(fields)
            db.session.execute(update(ChainHead).values(seq=rows[-1].seq, hash=prev))
            db.session.commit()
            ledger.rebuild_state(db.session)
            treestore.rebuild(db.session)

    return rewrite


@pytest.fixture(scope="session")
def ledger_v1() -> dict:
    """tests/data/ledger_v1.json: tables as the code of commit 811e072 (ledger form version 1)
    left them."""
    return json.loads((Path(__file__).parent / "data" / "ledger_v1.json").read_text())
