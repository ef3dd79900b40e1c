"""Load and faults: the production gunicorn configuration under mixed traffic, then SIGKILLed.

Per database: a normal run (mixed traffic for --duration seconds at --connections
connections), then a run in which the server's whole process group is killed with SIGKILL
--kills times mid-load and started again. The load generator is a second process (asyncio,
keep-alive HTTP/1.1, one connection per task; each request comes from one of a million
visitor addresses through X-Forwarded-For, CONSENT_TRUSTED_PROXIES=1, so the rate limiter does
its work per visitor as in production, and no visitor nears its limit). After each run: every
write answered 2xx (the ids the client saw acknowledged)
must be in the ledger, `flask consent verify` must say ok, and the report prints requests per
second, p50 / p99 latency and errors.

  .venv/bin/python bench/load_and_kill.py [--db auto|sqlite|pg|sqlite,pg] [--duration 60]
      [--connections 64] [--kills 2] [--pg postgresql+psycopg://postgres@127.0.0.1:5432]
      [--database-url URL]   # run once against an existing, migrated database instead

Exit status 1 when an acknowledged write is missing, verify fails or the server never came
back; errors while the server is down are expected and only counted.
"""
import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DB = "consent_bench_faults"
# The mix, by weight: new visitors' choices, changed choices, reads, a device's events (its
# export), the banner's config, and now and then an auditor's verify of the whole chain.
MIX = (("grant", 45), ("update", 15), ("read", 25), ("events", 10), ("config", 4.9),
       ("verify", 0.1))
CHOICES = ({"analytics": True, "marketing": False}, {"analytics": False, "marketing": False},
           {"analytics": True, "marketing": True})


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# The load generator (the second process: `load_and_kill.py client ...`)


class Client:
    """One keep-alive connection; counts what it saw, keeps the writes acknowledged."""

    def __init__(self, host, port, deadline, key, stats, acks):
        self.host, self.port, self.deadline, self.key = host, port, deadline, key
        self.stats, self.acks = stats, acks
        self.reader = self.writer = None
        self.consent_id = None

    async def connect(self):
        while time.monotonic() < self.deadline:
            try:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                return True
            except OSError:
                self.stats["connect_errors"] += 1
                await asyncio.sleep(0.1)
        return False

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def request(self, what):
        visitor = f"10.{random.randrange(16)}.{random.randrange(256)}.{random.randrange(256)}"
        headers = {"Host": f"{self.host}:{self.port}", "X-Forwarded-For": visitor,
                   "User-Agent": "load-and-kill/1"}
        body = b""
        if what in ("grant", "update"):
            payload = {"choices": random.choice(CHOICES), "policy_version": "1",
                       "language": random.choice(("nb", "en")), "event_id": str(uuid.uuid4())}
            if what == "update" and self.consent_id:
                payload["consent_id"] = self.consent_id
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
            method, path = "POST", "/api/v1/consents"
        elif what == "read":
            method, path = "GET", f"/api/v1/consents/{self.consent_id}"
        elif what == "events":
            method, path = "GET", f"/api/v1/consents/{self.consent_id}/events"
        elif what == "verify":
            method, path = "GET", "/api/v1/audit/verify"
            headers["Authorization"] = f"Bearer {self.key}"
        else:
            method, path = "GET", "/api/v1/config"
        headers["Content-Length"] = str(len(body))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in
                                                          headers.items()) + "\r\n"
        return head.encode() + body, body

    async def exchange(self, data):
        self.writer.write(data)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload, close

    async def run(self, weights):
        names = [name for name, _ in MIX]
        if not await self.connect():
            return
        while time.monotonic() < self.deadline:
            what = random.choices(names, weights)[0]
            if what in ("update", "read", "events") and not self.consent_id:
                what = "grant"
            data, body = self.request(what)
            start = time.perf_counter()
            try:
                status, payload, close = await asyncio.wait_for(self.exchange(data), 15)
            except (TimeoutError, OSError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ValueError, IndexError):
                self.stats["errors"] += 1
                self.stats["connection_errors"] += 1
                self.close()
                await asyncio.sleep(0.05)
                if not await self.connect():
                    return
                continue
            elapsed = time.perf_counter() - start
            self.stats["requests"] += 1
            if 200 <= status < 300:
                self.stats["ok"] += 1
                self.stats["latencies"].append(elapsed)
                if what in ("grant", "update"):
                    answer = json.loads(payload)
                    self.consent_id = answer["consent_id"]
                    self.acks.append((answer["consent_id"], answer["event_id"]))
            else:
                self.stats["errors"] += 1
                self.stats["status"][str(status)] = self.stats["status"].get(str(status), 0) + 1
            if close:
                self.close()
                if not await self.connect():
                    return


async def load(host, port, duration, connections, key):
    stats = {"requests": 0, "ok": 0, "errors": 0, "connection_errors": 0, "connect_errors": 0,
             "status": {}, "latencies": []}
    acks: list[tuple[str, str]] = []
    deadline = time.monotonic() + duration
    weights = [w for _, w in MIX]
    clients = [Client(host, port, deadline, key, stats, acks) for _ in range(connections)]
    started = time.monotonic()
    await asyncio.gather(*(c.run(weights) for c in clients))
    stats["elapsed"] = time.monotonic() - started
    for c in clients:
        c.close()
    return stats, acks


def client_main(args):
    stats, acks = asyncio.run(load("127.0.0.1", args.port, args.duration, args.connections,
                                   args.key))
    latencies = sorted(stats.pop("latencies"))
    with open(args.acks, "w") as out:
        for consent_id, event_id in acks:
            out.write(f"{consent_id} {event_id}\n")
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0] * 99
    stats.update(p50_ms=round(q[49] * 1000, 1), p99_ms=round(q[98] * 1000, 1),
                 acknowledged_writes=len(acks),
                 rps=round(stats["requests"] / stats["elapsed"], 1))
    print(json.dumps(stats))


# ---------------------------------------------------------------------------------------------
# The server and the runs


class Server:
    """gunicorn -c gunicorn.conf.py wsgi:app on one port, in a process group of its own."""

    def __init__(self, env, port, log_path):
        self.env, self.port, self.log_path, self.process = env, port, log_path, None

    def start(self, wait=30):
        log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py",
                                         "wsgi:app"], cwd=ROOT, env=self.env, stdout=log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"the server did not come up; see {self.log_path}")

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def flask(env, *args, check=True):
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", "consent", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=check)


def stored_event_ids(url) -> set[tuple[str, str]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {(row[0], row[1]) for row in
                    conn.execute(text("SELECT subject, event_id FROM consent_event"))}
    finally:
        engine.dispose()


def one_run(env, url, port, workdir, name, duration, connections, kills, key):
    """One run of the load, with kills SIGKILLs spread over it; returns its figures."""
    server = Server(env, port, workdir / f"{name}.log")
    server.start()
    acks_path = workdir / f"{name}.acks"
    client = subprocess.Popen(
        [sys.executable, __file__, "client", "--port", str(port), "--duration", str(duration),
         "--connections", str(connections), "--key", key, "--acks", str(acks_path)],
        stdout=subprocess.PIPE, text=True)
    restarts = []
    try:
        for _ in range(kills):
            time.sleep(duration / (kills + 1))
            server.kill()
            down = time.monotonic()
            server.start()
            restarts.append(round(time.monotonic() - down, 2))
        out, _ = client.communicate(timeout=duration + 120)
    finally:
        server.stop()
        if client.poll() is None:
            client.kill()
    figures = json.loads(out)
    acked = {tuple(line.split()) for line in acks_path.read_text().splitlines()}
    stored = stored_event_ids(url)
    missing = acked - stored
    verify = flask(env, "verify", check=False)
    figures.update(name=name, kills=kills, restart_s=restarts, stored=len(stored),
                   acknowledged_in_ledger=len(acked) - len(missing), missing=len(missing),
                   verify=(verify.stdout or verify.stderr).strip())
    figures["ok_verify"] = verify.returncode == 0
    return figures


def report(db, f):
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(f["status"].items())) or "none"
    print(f"{db:6} {f['name']:7} kills={f['kills']} rps={f['rps']:.0f} p50={f['p50_ms']}ms "
          f"p99={f['p99_ms']}ms requests={f['requests']} errors={f['errors']} "
          f"(connection {f['connection_errors']}, status {statuses}) "
          f"acknowledged={f['acknowledged_writes']} in_ledger={f['acknowledged_in_ledger']} "
          f"missing={f['missing']} verify={'ok' if f['ok_verify'] else 'BROKEN'} "
          f"restart_s={f['restart_s']}", flush=True)


def signing_key() -> str:
    from consent_server.ledger.signing import generate

    return generate()


def prepare(url, workdir):
    """The environment for the server and the CLI on url; the schema and notice 1 in place; an
    auditor key for the load's verify calls."""
    env = {**os.environ, "CONSENT_DATABASE_URL": url,
           "CONSENT_SECRET_KEY": secrets.token_hex(32),
           "CONSENT_EMAIL_HASH_KEY": secrets.token_hex(32),
           "CONSENT_SIGNING_KEY": signing_key(),
           "CONSENT_INSTANCE_PATH": str(workdir), "CONSENT_TRUSTED_PROXIES": "1",
           "CONSENT_ACCESS_LOG": str(workdir / "access.log"),
           "CONSENT_RATELIMIT_PER_WORKER": "1"}  # per-worker limits, knowingly (several workers)
    flask(env, "init-db")
    flask(env, "publish-policy")
    out = flask(env, "create-key", "--role", "auditor", "--name", "bench").stdout
    key = next(word for word in out.split() if word.startswith("cs_"))
    return env, key


def pg_database(base: str) -> str | None:
    """A fresh database on the local PostgreSQL, or None when it does not answer."""
    import psycopg

    plain = base.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain + "/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
    except psycopg.OperationalError:
        return None
    return f"{base}/{PG_DB}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    client = sub.add_parser("client")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--duration", type=float, required=True)
    client.add_argument("--connections", type=int, required=True)
    client.add_argument("--key", required=True)
    client.add_argument("--acks", required=True)
    parser.add_argument("--db", default="auto")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--database-url")
    parser.add_argument("--workers", default="2")
    args = parser.parse_args(argv)
    if args.mode == "client":
        return client_main(args)

    failed = False
    with tempfile.TemporaryDirectory(prefix="consent-faults-") as tmp:
        workdir = Path(tmp)
        targets = []
        if args.database_url:
            targets.append(("given", args.database_url))
        else:
            wanted = ["sqlite", "pg"] if args.db == "auto" else args.db.split(",")
            for db in wanted:
                if db == "sqlite":
                    targets.append(("sqlite", f"sqlite:///{workdir / 'faults.db'}"))
                elif db == "pg":
                    url = pg_database(args.pg)
                    if url is None:
                        print("pg     skipped: no PostgreSQL answers at 127.0.0.1:5432")
                        failed |= args.db != "auto"
                    else:
                        targets.append(("pg", url))
        for db, url in targets:
            run_dir = workdir / db
            run_dir.mkdir()
            env, key = prepare(url, run_dir)
            env["WEB_CONCURRENCY"] = args.workers
            port = free_port()
            env["CONSENT_BIND"] = f"127.0.0.1:{port}"
            env["CONSENT_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
            for name, kills in (("normal", 0), ("sigkill", args.kills)):
                log(f"{db}: {name} run, {args.duration:.0f} s at {args.connections} connections")
                figures = one_run(env, url, port, run_dir, name, args.duration,
                                  args.connections, kills, key)
                report(db, figures)
                failed |= bool(figures["missing"]) or not figures["ok_verify"]
                failed |= figures["acknowledged_writes"] == 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
