"""Exports and verify against ceilings measured on the same data in the same run.

  .venv/bin/python bench/export_bench.py [--events 1000000] [--pg postgresql://...]

SQLite: rows per second of `GET /api/v1/audit/events?format=csv` through gunicorn (a client
reading the whole stream) as a ratio of `sqlite3 -csv` dumping the table and of a plain Python
loop over a sqlite3 cursor into csv.writer (shared/bench/backend/limits_sqlite.py export-py, on
this table). PostgreSQL (--pg): the same export as a ratio of `psql \\copy` and of psycopg's
`COPY ... TO STDOUT`. The server's memory: its worker's peak RSS growth during the export.
verify: `ledger.verify` against hashing the same events' canonical form in a bare loop.
Prints one `RESULT {json}` line at the end.
"""
import argparse
import csv
import hashlib
import http.client
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consent_server import create_app, ledger  # noqa: E402
from consent_server.extensions import db  # noqa: E402
from consent_server.ledger import chain  # noqa: E402
from consent_server.models import ConsentEvent, ConsentState  # noqa: E402
from consent_server.staff import keys  # noqa: E402

UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/131.0 Safari/537.36", 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) '
       'AppleWebKit/605.1.15 "quoted", comma', "Firefox/140.0"]
CHOICES = [chain.canonical({"necessary": True, "analytics": a, "marketing": m}).decode()
           for a in (True, False) for m in (True, False)]


def events(n: int):
    """n chained version 2 events: devices with two choices each (a grant, then an update)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev = chain.GENESIS
    subject = None
    for seq in range(1, n + 1):
        if seq % 2:
            subject = secrets.token_urlsafe(16)
        salt = secrets.token_hex(8)
        ip, ua = f"192.0.{seq % 256}.0", UAS[seq % len(UAS)]
        event = {"v": 2, "seq": seq, "event_id": str(uuid.uuid4()),
                 "recorded_at": start + timedelta(seconds=seq * 3),
                 "subject_type": "device", "subject": subject,
                 "action": "grant" if seq % 2 else "update", "choices": CHOICES[seq % 4],
                 "policy_version": "1", "language": "nb", "text_hash": "ab" * 32,
                 "source": "banner", "gpc": False, "ip": ip, "user_agent": ua, "pii_salt": salt,
                 "ip_digest": chain.digest(salt, ip), "ua_digest": chain.digest(salt, ua),
                 "basis": None, "details": None, "prev_hash": prev}
        event["hash"] = prev = chain.event_hash(event)
        yield event


def load(app, n: int) -> None:
    """Write n events, their state rows and the head, in batches (outside the timed part)."""
    columns = [c.name for c in ConsentEvent.__table__.columns]
    state_columns = [c.name for c in ConsentState.__table__.columns]
    with app.app_context():
        engine = db.engine
        dialect = engine.dialect
        time_type = ConsentEvent.__table__.c.recorded_at.type.bind_processor(dialect)
        raw = engine.raw_connection()
        cur = raw.cursor()
        mark = "?" if dialect.name == "sqlite" else "%s"
        insert = (f"INSERT INTO consent_event ({', '.join(columns)}) VALUES "
                  f"({', '.join([mark] * len(columns))})")
        upsert = (f"INSERT INTO consent_state ({', '.join(state_columns)}) VALUES "
                  f"({', '.join([mark] * len(state_columns))})")
        batch, states, last, first = [], [], None, None
        for event in events(n):
            event = {**event, "recorded_at": time_type(event["recorded_at"]) if time_type
                     else event["recorded_at"]}
            if dialect.name == "sqlite":
                event["gpc"] = int(event["gpc"])
            batch.append([event.get(c) for c in columns])
            if event["seq"] % 2 == 0:  # the device's last event: its state
                states.append([{**event, "first_at": first}.get(c) for c in state_columns])
            else:
                first = event["recorded_at"]
            last = event
            if len(batch) >= 20000:
                cur.executemany(insert, batch)
                cur.executemany(upsert, states)
                batch, states = [], []
        if batch:
            cur.executemany(insert, batch)
            cur.executemany(upsert, states)
        cur.execute(f"UPDATE chain_head SET seq = {mark}, hash = {mark} WHERE id = 1",
                    (last["seq"], last["hash"]))
        raw.commit()
        raw.close()


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
                             "--timeout", "600", "wsgi:app"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start: " + proc.stderr.read().decode()[-2000:])


def worker_pid(master: int) -> int:
    for _ in range(100):
        out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
        if out.strip():
            return int(out.split()[0])
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker")


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def api_export(port: int, secret: str, worker: int) -> dict:
    """GET the CSV export, reading the whole stream; the worker's peak memory growth (after a
    first small export, so imports and first-request set-up do not count)."""
    warm = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    warm.request("GET", "/api/v1/audit/events?format=csv&from_seq=999999999",
                 headers={"Authorization": f"Bearer {secret}"})
    warm.getresponse().read()
    warm.close()
    before = memory_kb(worker, "VmRSS")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("GET", "/api/v1/audit/events?format=csv",
                 headers={"Authorization": f"Bearer {secret}"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()[:500]
    size, lines = 0, 0
    while chunk := resp.read(1 << 20):
        size += len(chunk)
        lines += chunk.count(b"\n")  # no value in these events holds a line break
    seconds = time.perf_counter() - start
    conn.close()
    return {"seconds": seconds, "bytes": size, "lines": lines,
            "rss_growth_mb": round((memory_kb(worker, "VmHWM") - before) / 1024, 1),
            "rss_before_mb": round(before / 1024, 1)}


def bare_hash_loop(rows) -> int:
    """The floor for verify: the canonical form and SHA-256 of every event, nothing else."""
    count = 0
    for event in rows:
        form = {key: event[key] for key in chain.FIELDS[2]}
        hashlib.sha256(chain.canonical(form)).hexdigest()
        count += 1
    return count


def sqlite_part(args, tmp: Path, base_env: dict) -> dict:
    path = tmp / "bench.db"
    url = f"sqlite:///{path}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        _, secret = keys.create_key(db.session, "bench", "auditor")
    seconds, _ = timed(lambda: load(app, args.events))
    print(f"loaded {args.events} events into SQLite in {seconds:.1f}s", file=sys.stderr)
    out = {}
    query = "SELECT * FROM consent_event ORDER BY seq"

    def cli():
        with open(tmp / "cli.csv", "w") as file:
            subprocess.run(["sqlite3", "-csv", str(path), query], stdout=file, check=True)

    def python_loop():
        conn = sqlite3.connect(path)
        with open(tmp / "py.csv", "w", newline="") as file:
            writer = csv.writer(file)
            for row in conn.execute(query):
                writer.writerow(row)
        conn.close()

    env = {**base_env, "CONSENT_DATABASE_URL": url}
    port = free_port()
    proc = serve(env, port)
    runs = {"sqlite3_cli": [], "python_loop": [], "api": []}
    try:
        worker = worker_pid(proc.pid)
        for _ in range(args.rounds):  # interleaved, best of each: the machine is shared
            runs["sqlite3_cli"].append(timed(cli)[0])
            runs["python_loop"].append(timed(python_loop)[0])
            api = api_export(port, secret, worker)
            assert api["lines"] == args.events + 1, api
            runs["api"].append(api["seconds"])
            print(f"round: { {k: round(v[-1], 1) for k, v in runs.items()} }", file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    out.update({k: min(v) for k, v in runs.items()})
    out["api_rss_growth_mb"] = api["rss_growth_mb"]
    out["api_rss_before_mb"] = api["rss_before_mb"]

    def rows():
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        for row in conn.execute(query):
            event = dict(row)
            event["recorded_at"] = event["recorded_at"].replace(" ", "T") + "Z"  # hashed form
            event["gpc"] = bool(event["gpc"])
            yield event
        conn.close()

    out["bare_hash"], _ = timed(lambda: bare_hash_loop(rows()))
    with app.app_context():
        out["verify"], result = timed(lambda: ledger.verify(db.session))
        assert result.ok, result
        db.engine.dispose()
    return out


def pg_part(args, tmp: Path, base_env: dict) -> dict:
    import psycopg
    from flask_migrate import upgrade
    from sqlalchemy import text

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": args.pg})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        _, secret = keys.create_key(db.session, "bench", "auditor")
        db.engine.dispose()
    seconds, _ = timed(lambda: load(app, args.events))
    print(f"loaded {args.events} events into PostgreSQL in {seconds:.1f}s", file=sys.stderr)
    libpq = args.pg.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE consent_event")
    out = {}
    query = "SELECT * FROM consent_event ORDER BY seq"
    def psql_copy():
        copy = f"\\copy ({query}) TO '{tmp / 'psql.csv'}' CSV HEADER"
        subprocess.run(["psql", libpq, "-qc", copy],
                       check=True)

    def psycopg_copy():
        with psycopg.connect(libpq) as conn, open(tmp / "pg.csv", "wb") as file:
            with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER)") as copy:
                for data in copy:
                    file.write(data)

    env = {**base_env, "CONSENT_DATABASE_URL": args.pg}
    port = free_port()
    proc = serve(env, port)
    runs = {"psql_copy": [], "psycopg_copy": [], "api": []}
    try:
        worker = worker_pid(proc.pid)
        for _ in range(args.rounds):
            runs["psql_copy"].append(timed(psql_copy)[0])
            runs["psycopg_copy"].append(timed(psycopg_copy)[0])
            api = api_export(port, secret, worker)
            assert api["lines"] == args.events + 1, api
            runs["api"].append(api["seconds"])
            print(f"round: { {k: round(v[-1], 1) for k, v in runs.items()} }", file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    out.update({k: min(v) for k, v in runs.items()})
    out["api_rss_growth_mb"] = api["rss_growth_mb"]

    def rows():
        from psycopg.rows import dict_row

        with psycopg.connect(libpq) as conn, conn.cursor("bare", row_factory=dict_row) as cur:
            cur.itersize = 5000
            cur.execute(query)
            for event in cur:
                event["recorded_at"] = chain.timestamp(event["recorded_at"].astimezone(UTC))
                yield event

    out["bare_hash"], _ = timed(lambda: bare_hash_loop(rows()))
    with app.app_context():
        out["verify"], result = timed(lambda: ledger.verify(db.session))
        assert result.ok, result
        db.engine.dispose()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pg", help="a PostgreSQL URL whose public schema may be dropped")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of exports")
    args = parser.parse_args()
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("CONSENT_", "BENCH_")) and k != "DATABASE_URL"}
    with tempfile.TemporaryDirectory() as tmp:
        base_env.update(CONSENT_SECRET_KEY=secrets.token_hex(32),
                        CONSENT_EMAIL_HASH_KEY=secrets.token_hex(32),
                        CONSENT_SIGNING_KEY=__import__("consent_server.signing").signing.generate(),
                        CONSENT_INSTANCE_PATH=str(Path(tmp) / "instance"))
        result = {"events": args.events}
        if not args.skip_sqlite:
            s = sqlite_part(args, Path(tmp), base_env)
            n = args.events
            result["sqlite"] = {
                "rows_per_s": {k: round(n / s[k]) for k in ("api", "python_loop", "sqlite3_cli")},
                "api_vs_python_loop": round(s["python_loop"] / s["api"], 3),
                "api_vs_sqlite3_cli": round(s["sqlite3_cli"] / s["api"], 3),
                "python_loop_vs_sqlite3_cli": round(s["sqlite3_cli"] / s["python_loop"], 3),
                "server_rss_growth_mb": s["api_rss_growth_mb"],
                "server_rss_before_mb": s["api_rss_before_mb"],
                "verify_s": round(s["verify"], 2), "bare_hash_s": round(s["bare_hash"], 2),
                "verify_vs_bare_hash": round(s["verify"] / s["bare_hash"], 2)}
            print(json.dumps(result["sqlite"], indent=1), file=sys.stderr)
        if args.pg:
            p = pg_part(args, Path(tmp), base_env)
            n = args.events
            result["postgresql"] = {
                "rows_per_s": {k: round(n / p[k]) for k in ("api", "psql_copy", "psycopg_copy")},
                "api_vs_psql_copy": round(p["psql_copy"] / p["api"], 3),
                "api_vs_psycopg_copy": round(p["psycopg_copy"] / p["api"], 3),
                "server_rss_growth_mb": p["api_rss_growth_mb"], "verify_s": round(p["verify"], 2),
                "bare_hash_s": round(p["bare_hash"], 2),
                "verify_vs_bare_hash": round(p["verify"] / p["bare_hash"], 2)}
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
