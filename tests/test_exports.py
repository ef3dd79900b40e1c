"""Exports for auditors: NDJSON, CSV and JSON round-trip, filters, roles, the CLI, and the
README's offline verifier run on an export."""
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from consent_server import csvfiles
from consent_server.extensions import db
from consent_server.ledger import chain, exports
from consent_server.models import ConsentEvent, utcnow
from consent_server.staff import keys

END = {"sqlite": "\r\n", "postgresql": "\n"}  # PostgreSQL's COPY ends records in LF


def db_name(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def database_events(app, **where):
    """The events as the database holds them, in the export's form."""
    with app.app_context():
        query = select(ConsentEvent.__table__).order_by(ConsentEvent.seq)
        for key, value in where.items():
            query = query.where(getattr(ConsentEvent, key) == value)
        out = []
        for row in db.session.execute(query).mappings():
            event = dict(row)
            event["recorded_at"] = chain.timestamp(event["recorded_at"])
            for key in chain.JSON_TEXT:
                event[key] = json.loads(event[key]) if event[key] is not None else None
            out.append(event)
        return out


def parse(fmt, body: str) -> list[dict]:
    """An export parsed back into events like database_events."""
    if fmt == "ndjson":
        return [json.loads(line) for line in body.splitlines()]
    if fmt == "json":
        return json.loads(body)
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    out = []
    for row in rows:
        event = {k: (csvfiles.unsafe(v) if v != "" else None) for k, v in row.items()}
        for key in ("seq", "v"):
            event[key] = int(event[key])
        event["gpc"] = event["gpc"] == "true"
        for key in chain.JSON_TEXT:
            event[key] = json.loads(event[key]) if event[key] is not None else None
        out.append(event)
    return out


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "json"])
def test_every_format_round_trips_to_the_database(app, client, auditor_key, fmt, nasty_user_agent,
                                                  seed):
    """REQ L-03: every field, in sequence order; a user agent with commas, quotes and newlines
    survives CSV."""
    seed(app)
    resp = client.get(f"/api/v1/audit/events?format={fmt}", headers=auditor_key)
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.mimetype == exports.FORMATS[fmt].split(";")[0]
    body = resp.get_data(as_text=True)
    expected = database_events(app)
    assert parse(fmt, body) == expected
    assert [e["seq"] for e in expected] == list(range(1, len(expected) + 1))
    assert any(e["user_agent"] == nasty_user_agent for e in expected)
    if fmt == "csv":
        assert body.startswith(",".join(exports.COLUMNS) + END[db_name(app)])


@pytest.mark.parametrize("fmt, empty", [("ndjson", []), ("csv", []), ("json", [])])
def test_an_empty_result_is_a_valid_file(client, auditor_key, fmt, empty):
    """REQ L-03."""
    resp = client.get(f"/api/v1/audit/events?format={fmt}&action=expire", headers=auditor_key)
    assert resp.status_code == 200
    assert parse(fmt, resp.get_data(as_text=True)) == empty
    if fmt == "csv":
        end = END[db_name(client.application)]
        assert resp.get_data(as_text=True) == ",".join(exports.COLUMNS) + end


def test_filters_are_honoured(app, client, auditor_key, seed):
    """REQ L-03: by time, purpose, action, subject (a consent id, or an e-mail address hashed
    here) and from_seq."""
    a, b, person = seed(app)
    everything = database_events(app)

    def get(query):
        resp = client.get(f"/api/v1/audit/events?{query}", headers=auditor_key)
        assert resp.status_code == 200, resp.json
        return [e["seq"] for e in parse("ndjson", resp.get_data(as_text=True))]

    assert get(f"subject={a}") == [e["seq"] for e in everything if e["subject"] == a]
    email = " Kari.Nordmann@example.no ".replace(" ", "%20")  # normalised before it is hashed
    assert get(f"subject={email}") == [e["seq"] for e in everything if e["subject"] == person]
    assert get("action=erase") == [e["seq"] for e in everything if e["action"] == "erase"]
    newsletter = [e["seq"] for e in everything if "newsletter" in e["choices"]]
    assert get("purpose=newsletter") == newsletter
    assert get("from_seq=3") == [e["seq"] for e in everything if e["seq"] >= 3]
    assert get("from_seq=2&action=withdraw") == [2] and get("from_seq=3&action=withdraw") == []
    third = everything[2]["recorded_at"]
    assert get(f"since={third}") == [e["seq"] for e in everything if e["seq"] >= 3]
    assert get(f"until={third}") == [1, 2]
    assert get(f"since={third}&until={everything[3]['recorded_at']}") == [3]
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert get(f"since={tomorrow}") == [] and len(get(f"until={tomorrow}")) == len(everything)


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"), ("until=2026-13-01", "until"), ("purpose=cookies", "purpose"),
    ("action=delete", "action"), ("subject=not-an@address@x", "subject"),
    ("from_seq=0", "from_seq"), ("from_seq=abc", "from_seq"), ("from_seq=2147483648", "from_seq"),
    ("format=xml", "format"),
    ("colour=red", "colour"),
])
def test_a_malformed_filter_is_a_422_problem(client, auditor_key, query, field):
    """REQ L-03."""
    resp = client.get(f"/api/v1/audit/events?{query}", headers=auditor_key)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    assert field in resp.json["errors"]


def read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as file:  # CRLF and CR inside values kept
        return file.read()


def test_export_cli_writes_each_format_with_a_progress_bar(app, runner, tmp_path, seed):
    """REQ L-03: `flask consent export --format ... --out FILE [filters]`."""
    a, _, _ = seed(app)
    for fmt in exports.FORMATS:
        out = tmp_path / f"events.{fmt}"
        result = runner.invoke(args=["consent", "export", "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert f"exported {len(database_events(app))} events" in result.output
        assert parse(fmt, read(out)) == database_events(app)
    out = tmp_path / "one.csv"
    result = runner.invoke(args=["consent", "export", "--format", "csv", "--out", str(out),
                                 "--subject", a, "--since", "2000-01-01"])
    assert result.exit_code == 0 and parse("csv", read(out)) == database_events(app, subject=a)
    bad = runner.invoke(args=["consent", "export", "--out", str(out), "--since", "soon"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_exports_read_in_chunks(app, monkeypatch, seed):
    """REQ L-03: the ledger is read in bounded chunks, never whole."""
    seed(app)
    sizes = []
    real = exports.rows

    def spy(engine, where, chunk=exports.CHUNK, **kwargs):
        for batch in real(engine, where, chunk=2, **kwargs):
            sizes.append(len(batch))
            yield batch

    monkeypatch.setattr(exports, "rows", spy)
    with app.app_context():
        text = "".join(t for _, t in exports.export(db.engine, exports.Filters(), "ndjson"))
    assert max(sizes) == 2 and sum(sizes) == len(database_events(app))
    assert parse("ndjson", text) == database_events(app)


def test_the_readme_snippet_verifies_an_export_offline(app, client, auditor_key, tmp_path,
                                                       run_snippet, seed, verified_offline):
    """REQ L-02, L-03: the README's stdlib-only script re-verifies an NDJSON export, and finds
    an edited, deleted or reordered line at its seq."""
    seed(app)
    assert len(run_snippet.source.strip().splitlines()) <= 24
    body = client.get("/api/v1/audit/events", headers=auditor_key).get_data(as_text=True)
    verified_offline(body)

    export = tmp_path / "events.ndjson"
    lines = body.splitlines(keepends=True)
    edited = json.loads(lines[2])
    edited["choices"]["marketing"] = not edited["choices"]["marketing"]
    cases = {"edited": lines[:2] + [json.dumps(edited) + "\n"] + lines[3:],
             "deleted": lines[:2] + lines[3:],
             "reordered": lines[:2] + [lines[3], lines[2]] + lines[4:]}
    for name, changed in cases.items():
        export.write_text("".join(changed), encoding="utf-8")
        done = run_snippet(tmp_path, export)
        assert done.returncode == 1 and "BROKEN at seq 3" in done.stderr, (name, done.stderr)


def test_the_readme_snippet_verifies_version_1_events(app, tmp_path, ledger_v1, run_snippet):
    """REQ L-02: an export holding version 1 events (written before migration 0004) verifies."""
    events = []
    for row in ledger_v1["consent_event"]:
        event = {**row, "recorded_at": row["recorded_at"].replace(" ", "T") + "Z",
                 "choices": json.loads(row["choices"])}
        events.append(event)
    export = tmp_path / "v1.ndjson"
    export.write_text("".join(json.dumps(e) + "\n" for e in events))
    done = run_snippet(tmp_path, export)
    assert done.returncode == 0 and f"ok: {len(events)} events" in done.stdout, done.stderr


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer nope"}, 401)])
def test_the_export_needs_a_key(client, headers, status):
    resp = client.get("/api/v1/audit/events", headers=headers)
    assert resp.status_code == status and resp.mimetype == "application/problem+json"


def test_the_export_refuses_the_marketing_role_before_it_reads_filters(app, client):
    with app.app_context():
        secret = keys.create_key(db.session, "mkt", "marketing")[1]
    resp = client.get("/api/v1/audit/events?since=bad",
                      headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 403


def test_a_postgresql_csv_export_in_small_pieces_keeps_every_character(app, client, auditor_key,
                                                                       monkeypatch, seed):
    """PostgreSQL's COPY output is gathered into pieces; a piece may end inside a multi-byte
    character (æøå in the user agent), which must survive."""
    if db_name(app) != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    seed(app)
    from consent_server.ledger import postgres  # psycopg: only on a PostgreSQL run

    monkeypatch.setattr(postgres, "PIECE", 7)
    resp = client.get("/api/v1/audit/events?format=csv", headers=auditor_key)
    assert parse("csv", resp.get_data(as_text=True)) == database_events(app)
