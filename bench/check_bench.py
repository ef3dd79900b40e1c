"""The marketing check's speed: 100,000 addresses against 1,000,000 persons (half of them
present), through the API, as a ratio to the same look-up in raw SQL on the same database.

Builds a database (SQLite in a temporary folder; PostgreSQL `consent_bench_check` at
127.0.0.1:5432 when it answers), fills it with persons and their states straight through the
driver, serves the app with gunicorn (one sync worker, 127.0.0.1), then in alternating rounds
times `POST /api/v1/marketing/check` with the 100,000 addresses (by default as a Norwegian
Excel CSV, so reading, sniffing, decoding and writing the file back are timed too), and the raw
look-up: the keyed hashes (computed beforehand, not timed) into a temporary table, joined with
person and consent_state. Prints per round api_s / raw_s, the median ratio, and the worker's
peak memory.

  .venv/bin/python bench/check_bench.py [--db auto|sqlite|pg] [--persons 1000000]
      [--checked 100000] [--rounds 3] [--format csv|json]
"""
import argparse
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DB = "consent_bench_check"
KEY = "bench-email-hash-key"
SIGNING = "A" * 43  # CONSENT_SIGNING_KEY: base64url of a 32-byte seed (a bench's, all zero)
TARGET = 3.0


def log(*parts):
    print(*parts, flush=True)


def hashed(address: str) -> str:
    return hmac.new(KEY.encode(), address.encode(), hashlib.sha256).hexdigest()


def address(i: int) -> str:
    return f"person{i}@example{i % 50}.no"


def prepare(url: str) -> str:
    """Migrate, publish the notice, make a marketing key; returns the key's secret."""
    from flask_migrate import upgrade

    from consent_server import create_app
    from consent_server.consent import notices
    from consent_server.extensions import db
    from consent_server.models import utcnow
    from consent_server.staff import keys

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "EMAIL_HASH_KEY": KEY, "SIGNING_KEY": SIGNING})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        notices.publish(db.session, app.extensions["consent_site"], app.config["LANGUAGES"],
                       utcnow(), True, False)
        _key, secret = keys.create_key(db.session, "bench", "marketing")
        db.engine.dispose()
    return secret


def rows(persons: int):
    """(person row, state row) for every person: a third consented to the newsletter, a third
    withdrew, a third is pending."""
    now = "2026-12-01 12:00:00.000000"
    for i in range(persons):
        h = hashed(address(i))
        kind = i % 3
        person = (h, h, address(i), "nb", now, '{"newsletter":true}' if kind == 2 else None,
                  False, '{"newsletter":"2026-12-01T12:00:00.000000Z"}' if kind == 1 else "{}")
        state = None
        if kind < 2:
            choices = '{"marketing":false,"newsletter":%s}' % ("true" if kind == 0 else "false")
            state = (h, "person", "grant" if kind == 0 else "withdraw", choices, "1", "nb",
                     None, "confirm", False, now, now, f"{i:036d}", i + 1, "0" * 64)
        yield person, state


PERSON_COLS = ("subject, address_hash, email, language, created_at, pending, mail_due, "
               "withdrawn")
STATE_COLS = ("subject, subject_type, action, choices, policy_version, language, text_hash, "
              "source, gpc, first_at, recorded_at, event_id, seq, hash")


def fill_sqlite(path: str, persons: int) -> None:
    conn = sqlite3.connect(path)
    people, states = [], []
    for person, state in rows(persons):
        people.append(person)
        if state:
            states.append(state)
    conn.executemany(f"INSERT INTO person ({PERSON_COLS}) VALUES (?,?,?,?,?,?,?,?)", people)
    conn.executemany(f"INSERT INTO consent_state ({STATE_COLS}) VALUES "
                     "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", states)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def fill_pg(dsn: str, persons: int) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY person ({PERSON_COLS}) FROM STDIN") as person_copy:
                states = []
                for person, state in rows(persons):
                    person_copy.write_row(person)
                    if state:
                        states.append(state)
            with cur.copy(f"COPY consent_state ({STATE_COLS}) FROM STDIN") as state_copy:
                for state in states:
                    state_copy.write_row(state)
        conn.commit()
        conn.execute("ANALYZE")


RAW_SQLITE = ("SELECT p.subject, p.email, p.pending, p.withdrawn, s.action, s.choices, "
              "s.policy_version FROM person p LEFT JOIN consent_state s ON s.subject = p.subject "
              "WHERE p.address_hash IN (SELECT h FROM check_hashes)")


def raw_sqlite(path: str, hashes: list[str]) -> float:
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    conn.execute("CREATE TEMPORARY TABLE check_hashes (h TEXT PRIMARY KEY)")
    conn.executemany("INSERT INTO check_hashes VALUES (?)", [(h,) for h in hashes])
    found = conn.execute(RAW_SQLITE).fetchall()
    conn.execute("DROP TABLE check_hashes")
    took = time.perf_counter() - start
    conn.close()
    assert len(found) == len(hashes) // 2, len(found)
    return took


def raw_pg(dsn: str, hashes: list[str]) -> float:
    import psycopg

    with psycopg.connect(dsn) as conn:
        start = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("CREATE TEMPORARY TABLE check_hashes (h varchar(64) PRIMARY KEY) "
                        "ON COMMIT DROP")
            with cur.copy("COPY check_hashes (h) FROM STDIN") as copy:
                for h in hashes:
                    copy.write_row((h,))
            cur.execute(RAW_SQLITE)
            found = cur.fetchall()
        conn.commit()
        took = time.perf_counter() - start
    assert len(found) == len(hashes) // 2, len(found)
    return took


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(url: str, folder: str):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update(CONSENT_DATABASE_URL=url, CONSENT_SECRET_KEY="bench", CONSENT_EMAIL_HASH_KEY=KEY,
               CONSENT_INSTANCE_PATH=folder, CONSENT_SIGNING_KEY=SIGNING)
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", "1", "-k", "sync",
                             "-t", "300", "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def worker_peak_kib(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    for line in Path(f"/proc/{children[0]}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def csv_body(emails: list[str]) -> bytes:
    """The addresses as Norwegian Excel saves them: `;`, UTF-8 with a BOM, CRLF, a name column."""
    lines = ["E-post;Navn"] + [f"{email};Kari Nordmann {i}" for i, email in enumerate(emails)]
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode()


def api(port: int, secret: str, body: bytes, fmt: str, count: int) -> float:
    if fmt == "csv":
        url, kind = "/api/v1/marketing/check?purpose=newsletter", "text/csv"
    else:
        url, kind = "/api/v1/marketing/check", "application/json"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{url}", data=body, method="POST",
        headers={"Content-Type": kind, "Authorization": f"Bearer {secret}"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        data = response.read()
        header = response.headers.get("Consent-Check-Summary")
    took = time.perf_counter() - start
    if fmt == "csv":  # the answer read as a client would: the file and its counts
        summary = dict(part.strip().split("=") for part in header.split(","))
        assert data.count(b"\r\n") == count + 1 and int(summary["checked"]) == count, summary
        return took, summary
    summary = json.loads(data)["summary"]
    assert summary["checked"] == count, summary
    return took, summary["reasons"]


def run(db: str, persons: int, checked: int, rounds: int, fmt: str) -> float | None:
    folder = tempfile.mkdtemp(prefix="check-bench-")
    if db == "sqlite":
        path = os.path.join(folder, "bench.db")
        url = f"sqlite:///{path}"
    else:
        import psycopg

        with psycopg.connect(PG.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
            conn.execute(f"CREATE DATABASE {PG_DB}")
        url = f"{PG}/{PG_DB}"
        dsn = url.replace("+psycopg", "")
    secret = prepare(url)
    start = time.perf_counter()
    fill_sqlite(path, persons) if db == "sqlite" else fill_pg(dsn, persons)
    log(f"[{db}] {persons:,} persons written in {time.perf_counter() - start:.1f} s")
    present = range(0, persons, max(1, persons // (checked // 2)))[: checked // 2]
    emails = [address(i) for i in present] + [f"absent{i}@example{i % 50}.no"
                                              for i in range(checked - len(present))]
    hashes = [hashed(e) for e in emails]
    if fmt == "csv":
        body = csv_body(emails)
    else:
        body = json.dumps({"purpose": "newsletter", "emails": emails}).encode()
    proc, port = serve(url, folder)
    ratios = []
    try:
        api(port, secret, body, fmt, checked)  # warm-up: imports, caches, the page cache
        for n in range(rounds):
            api_s, reasons = api(port, secret, body, fmt, checked)
            raw_s = raw_sqlite(path, hashes) if db == "sqlite" else raw_pg(dsn, hashes)
            ratios.append(api_s / raw_s)
            log(f"[{db}] round {n + 1}: api {api_s:.2f} s, raw SQL {raw_s:.2f} s, "
                f"ratio {api_s / raw_s:.2f}  {reasons}")
        peak = worker_peak_kib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    ratio = statistics.median(ratios)
    log(f"[{db}] median api/raw {ratio:.2f} (target <= {TARGET}); worker peak memory "
        f"{peak / 1024:.0f} MiB; {checked:,} addresses against {persons:,} persons")
    if db == "pg":
        import psycopg

        with psycopg.connect(PG.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    shutil.rmtree(folder, ignore_errors=True)
    return ratio


def pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="auto")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--checked", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", default="csv", choices=("csv", "json"),
                        help="csv: a Norwegian Excel file (sniffing and decoding timed too)")
    args = parser.parse_args()
    dbs = ["sqlite", "pg"] if args.db == "auto" else args.db.split(",")
    for db in dbs:
        if db == "pg" and not pg_answers():
            log("[pg] skipped: nothing answers at 127.0.0.1:5432")
            continue
        run(db, args.persons, args.checked, args.rounds, args.format)


if __name__ == "__main__":
    main()
