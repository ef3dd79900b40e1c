"""docs/deploy.md, run: nginx with docs/deploy/nginx-site.conf and TLS in front of two gunicorn
instances started as consent-server@.service starts them (with consent-server.env), on the test
database, with Redis limits; the daily units' commands run once. Every config file is the one in
docs/deploy/, its @NAMES@ filled in; only nginx's main file (Debian's /etc/nginx/nginx.conf in
production) is the test's own, for its temporary paths."""
import collections
import datetime
import http.client
import ipaddress
import json
import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.models import ConsentEvent

NGINX = Path("/usr/sbin/nginx")
DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"
VENV = Path(sys.executable).parent.parent  # the .venv the tests run in, as @VENV@
LOAD_SECONDS, KILL_AFTER, THREADS, PER_ADDRESS = 4.0, 1.5, 8, 20
METRICS_TOKEN = "test-metrics-token"

SYSTEMD_ANALYZE = Path("/usr/bin/systemd-analyze")
UNITS = ("consent-server@.service", "consent-purge.service", "consent-purge.timer",
         "consent-checkpoint.service", "consent-checkpoint.timer")
needs_nginx = pytest.mark.skipif(not NGINX.exists(),
                                 reason="nginx is not installed (/usr/sbin/nginx, Debian's nginx)")

MAIN_CONF = """{user}daemon off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/nginx.err warn;
events {{ worker_connections 512; }}
http {{
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  include {site};
}}
"""


def fill(name: str, values: dict) -> str:
    """A file of docs/deploy/ with its @NAMES@ filled in; every one must be."""
    text = re.sub(r"@([A-Z_]+)@", lambda m: str(values.get(m.group(1), m.group(0))),
                  (DEPLOY / name).read_text())
    assert not re.search(r"@[A-Z_]+@", text), name
    return text


def service(name: str, values: dict, instance: str = "") -> dict:
    """The [Service] settings of a unit (Environment and ExecStart as lists), with systemd's
    specifiers %i (the instance), %t (the runtime folder) and %% resolved."""
    settings = collections.defaultdict(list)
    section = None
    for line in fill(name, values).splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            value = value.replace("%i", instance).replace("%t", str(values["RUNTIME"]))
            settings[key].append(value.replace("%%", "%"))
    return settings


def unit_env(settings: dict) -> dict:
    """The environment systemd gives the unit: its EnvironmentFile, then Environment=."""
    env = {**os.environ}
    for line in Path(settings["EnvironmentFile"][0]).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    env.update(dict(each.split("=", 1) for each in settings.get("Environment", [])))
    return env


def run_unit(name: str, values: dict) -> str:
    """Run a oneshot unit's ExecStart as systemd would (its environment and folder)."""
    settings = service(name, values)
    done = subprocess.run(shlex.split(settings["ExecStart"][0]), env=unit_env(settings),
                          cwd=settings["WorkingDirectory"][0], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


class Instance:
    """consent-server@<port>.service: its ExecStart in its environment, a process group."""

    def __init__(self, values: dict, port: int, log: Path, **overrides: str):
        self.port, self.log = port, log
        self.settings = service("consent-server@.service", values, str(port))
        self.env = {**unit_env(self.settings), **overrides}
        Path(self.env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True)  # RuntimeDirectory=
        self.process = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                shlex.split(self.settings["ExecStart"][0]), env=self.env, stdout=out,
                stderr=subprocess.STDOUT, cwd=self.settings["WorkingDirectory"][0],
                start_new_session=True)

    def wait(self) -> None:
        """Until /readyz answers (the database is at the migrations' head)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"no answer: {self.log.read_text()[-2000:]}")

    def kill(self, sig=signal.SIGKILL) -> None:
        """Signal the process group (SIGKILL: a crash; SIGTERM: a stop, then SIGKILL)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and consent.test (the client trusts it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "consent.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("consent.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Deployment:
    """nginx on a TLS port in front of two instances; post() through it from any loopback
    address (127.x.y.z), as a client there would."""

    def __init__(self, tmp: Path, database_url: str, redis_url: str | None, free_port,
                 **overrides: str):
        self.tmp = tmp
        self.port, http_port, ports = free_port(), free_port(), (free_port(), free_port())
        cert, key = certificate(tmp)
        self.values = {
            "DATABASE_URL": database_url, "STATE": tmp / "state", "RUNTIME": tmp / "run",
            "PUBLIC_URL": f"https://127.0.0.1:{self.port}",
            "ALLOWED_ORIGINS": "https://shop.example",
            "REDIS_URL": redis_url or "memory://",
            "ENV_FILE": tmp / "env", "VENV": VENV, "SERVER_NAME": "consent.test",
            "LISTEN": f"127.0.0.1:{self.port}", "LISTEN_HTTP": f"127.0.0.1:{http_port}",
            "CERT": cert, "CERT_KEY": key,
            "UPSTREAM_A": f"127.0.0.1:{ports[0]}", "UPSTREAM_B": f"127.0.0.1:{ports[1]}"}
        (tmp / "state").mkdir()
        (tmp / "env").write_text(fill("consent-server.env", self.values))
        self.http_port = http_port
        # docs/deploy.md, "Install": the keys, then the schema.
        for command in ("make-keys", "init-db"):
            self.flask(command)
        # Two workers each: the machine running the tests is small and shared.
        env = {"WEB_CONCURRENCY": "2", "CONSENT_RATELIMIT_KEY_PREFIX": uuid.uuid4().hex,
               **overrides}
        self.instances = [Instance(self.values, port, tmp / f"gunicorn-{port}.log", **env)
                          for port in ports]
        (tmp / "site.conf").write_text(fill("nginx-site.conf", self.values))
        (tmp / "nginx.conf").write_text(MAIN_CONF.format(
            tmp=tmp, site=tmp / "site.conf", user="user root;\n" if os.geteuid() == 0 else ""))
        self.nginx = None
        self.context = ssl.create_default_context(cafile=str(cert))

    def flask(self, *args: str) -> str:
        """`consent ...` as docs/deploy.md defines it: sh reads the units' environment file."""
        line = f'set -a; . {self.values["ENV_FILE"]}; exec {VENV}/bin/flask consent "$@"'
        done = subprocess.run(["sh", "-c", line, "sh", *args], cwd=self.values["STATE"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def __enter__(self):
        try:
            return self._start()
        except BaseException:
            self.__exit__()  # nothing started is left running
            raise

    def _start(self):
        for each in self.instances:
            each.start()
        for each in self.instances:
            each.wait()
        self.nginx = subprocess.Popen([str(NGINX), "-c", str(self.tmp / "nginx.conf"),
                                       "-p", str(self.tmp)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                errors = self.tmp / "nginx.err"
                assert self.nginx.poll() is None and time.monotonic() < deadline, \
                    errors.read_text() if errors.exists() else "nginx did not start"
                time.sleep(0.1)

    def __exit__(self, *exc):
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(10)
        for each in self.instances:
            each.kill(signal.SIGTERM)

    def connect(self, source: str) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                           timeout=15, source_address=(source, 0))

    @staticmethod
    def post(conn, body: dict, headers: dict | None = None) -> tuple[int, dict]:
        conn.request("POST", "/api/v1/consents", body=json.dumps(body),
                     headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if resp.status == 201 else {})


def _load(deployment: Deployment, choice: dict) -> dict:
    """THREADS clients post consents (each its own event_id) for LOAD_SECONDS, each from a new
    loopback address every PER_ADDRESS requests; instance A is SIGKILLed after KILL_AFTER."""
    acked, latencies, statuses, after_kill = [], [], collections.Counter(), []
    start = time.monotonic()
    killed_at = []

    def client(n):
        conn, sent = None, 0
        while time.monotonic() - start < LOAD_SECONDS:
            if sent % PER_ADDRESS == 0:
                if conn:
                    conn.close()
                block = sent // PER_ADDRESS
                conn = deployment.connect(f"127.{60 + n}.{block // 250}.{block % 250 + 1}")
            event_id, t0 = str(uuid.uuid4()), time.monotonic()
            try:
                status, _ = deployment.post(conn, {**choice, "event_id": event_id})
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                conn.close()
            t1 = time.monotonic()
            latencies.append(t1 - t0)
            statuses[status] += 1
            if status == 201:
                acked.append(event_id)
                if killed_at and t0 > killed_at[0]:
                    after_kill.append(event_id)
            sent += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for each in threads:
        each.start()
    time.sleep(KILL_AFTER)
    deployment.instances[0].kill()  # arbiter and workers, as a crash would
    killed_at.append(time.monotonic())
    for each in threads:
        each.join(LOAD_SECONDS + 30)
    elapsed = time.monotonic() - start
    latencies.sort()
    return {"acked": acked, "after_kill": after_kill, "statuses": statuses,
            "per_s": len(latencies) / elapsed, "p99": latencies[int(len(latencies) * 0.99)],
            "requests": len(latencies)}


def _metrics(port: int, context: ssl.SSLContext | None = None):
    """GET /metrics with the token: the text, or the status when it is not 200."""
    scheme = "https" if context else "http"
    request = urllib.request.Request(f"{scheme}://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as resp:
            return resp.read().decode()
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def _stored(app, event_ids: list[str]) -> int:
    with app.app_context():
        found = 0
        for n in range(0, len(event_ids), 500):
            found += len(db.session.execute(select(ConsentEvent.event_id).where(
                ConsentEvent.event_id.in_(event_ids[n:n + 500]))).all())
        return found


@needs_nginx
def test_behind_nginx_the_client_is_recorded_and_a_killed_instance_loses_nothing(
        app, database_url, redis_url, free_port, tmp_path, choice, stored_events):
    """REQ L-04, L-06, S-08: through nginx (TLS) the ledger records the client's address cut to
    its /24, not nginx's nor an X-Forwarded-For the client made up; plain HTTP redirects;
    with one of two instances SIGKILLed mid-load every acknowledged consent is stored and
    `verify` says ok; the daily checkpoint and purge units run, and the ledger extends it."""
    with Deployment(tmp_path, database_url, redis_url, free_port,
                    CONSENT_METRICS_TOKEN=METRICS_TOKEN) as deployment:
        conn = deployment.connect("127.31.41.59")
        status, answer = deployment.post(conn, choice, {"X-Forwarded-For": "203.0.113.9"})
        conn.close()
        assert status == 201, answer
        assert [event.ip for event in stored_events(answer["consent_id"])] == ["127.31.41.0"]
        plain = http.client.HTTPConnection("127.0.0.1", deployment.http_port, timeout=5)
        plain.request("GET", "/api/v1/config")
        resp = plain.getresponse()
        plain.close()
        assert resp.status == 301  # to the same host on 443, the production port
        assert resp.getheader("Location") == "https://127.0.0.1/api/v1/config"

        assert _metrics(deployment.port, deployment.context) == 404  # not through nginx
        second = deployment.instances[1]  # on its own port, its workers added up:
        assert "consent_http_requests_total{" in _metrics(second.port)
        assert list(Path(second.env["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"))

        run = _load(deployment, choice)
        stored = _stored(app, run["acked"])
        print(f"\nnginx + 2 instances, one SIGKILLed at {KILL_AFTER}s: {run['requests']} requests "
              f"in {LOAD_SECONDS}s, {run['per_s']:.0f} requests/s, p99 {run['p99'] * 1000:.0f} "
              f"ms, statuses {dict(run['statuses'])}, acked {len(run['acked'])} = stored "
              f"{stored}")
        assert stored == len(run["acked"]) > 0
        # The only failures are writes in flight on the killed instance, one per client at
        # most: a 502, or an answer cut off when its headers had already passed nginx. Nginx
        # passes every other request to the live instance.
        failed = {key: n for key, n in run["statuses"].items() if key != 201}
        assert set(failed) <= {502, "IncompleteRead"}, run["statuses"]
        assert sum(failed.values()) <= THREADS, run["statuses"]
        assert len(run["after_kill"]) > 0  # the other instance carried on

        out = run_unit("consent-checkpoint.service", deployment.values)
        kept = list((deployment.values["STATE"] / "checkpoints").glob("checkpoint-*.json"))
        assert len(kept) == 1, out
        assert "expired 0 consents" in run_unit("consent-purge.service", deployment.values)
        verified = deployment.flask("verify", "--checkpoint", str(kept[0]))
        # (a write in flight when its instance died may be stored unacknowledged: more is fine)
        assert int(re.match(r"ok: (\d+) events", verified).group(1)) >= len(run["acked"]) + 1


@needs_nginx
def test_behind_nginx_a_rate_limit_holds_across_both_instances(
        app, database_url, shared_redis, free_port, tmp_path, choice):
    """REQ S-03: with consent-server.env's Redis storage, six writes a minute from one client
    are six in all, whichever instance nginx passes each to (it alternates): the seventh and
    eighth, one on each instance, are 429."""
    with Deployment(tmp_path, database_url, shared_redis, free_port,
                    CONSENT_RATELIMIT_PUBLIC="6/minute") as deployment:
        conn = deployment.connect("127.77.0.1")
        statuses = [deployment.post(conn, choice)[0] for _ in range(8)]
        conn.close()
    assert statuses == [201] * 6 + [429] * 2
    for each in deployment.instances:
        log = each.log.read_text()
        assert '"POST /api/v1/consents" 201' in log and '"POST /api/v1/consents" 429' in log, log


@needs_nginx
def test_behind_nginx_64_slow_clients_stall_nothing(app, database_url, redis_url, free_port,
                                                   tmp_path, choice):
    """REQ S-04: 32 clients trickling their headers and 32 their bodies hold only nginx's
    connections (it reads a request whole before passing it on, docs/deploy/nginx-site.conf):
    meanwhile /healthz and a consent through nginx answer in under a second each, with the
    instances' 2 sync workers each."""
    with Deployment(tmp_path, database_url, redis_url, free_port,
                    CONSENT_RATELIMIT_PER_WORKER="1") as deployment:
        slow = []
        try:
            for n in range(64):
                sock = deployment.context.wrap_socket(socket.create_connection(
                    ("127.0.0.1", deployment.port), timeout=10), server_hostname="127.0.0.1")
                sock.sendall(b"POST /api/v1/consents HTTP/1.1\r\nHost: consent.test\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 999\r\n\r\n{"
                             if n % 2 else b"GET /healthz HTTP/1.1\r\nHost: consent.test\r\nX-")
                slow.append(sock)
            for sock in slow:  # still trickling
                sock.sendall(b"a")
            conn = deployment.connect("127.0.0.9")
            started = time.monotonic()
            conn.request("GET", "/healthz")
            health = conn.getresponse()
            health.read()
            health_took, started = time.monotonic() - started, time.monotonic()
            status, _ = deployment.post(conn, choice)
            post_took = time.monotonic() - started
            conn.close()
        finally:
            for sock in slow:
                sock.close()
    print(f"with 64 slow clients: /healthz {health_took * 1000:.0f} ms, POST "
          f"{post_took * 1000:.0f} ms")
    assert health.status == 200 and status == 201
    assert health_took < 1 and post_took < 1, (health_took, post_took)


@pytest.mark.skipif(not SYSTEMD_ANALYZE.exists(), reason="no systemd-analyze (Debian's systemd)")
def test_the_units_pass_systemd_analyze_verify(tmp_path):
    """REQ S-08: docs/deploy/'s units and timers, filled in, load without a word from systemd
    (an unknown key or a bad value is only a warning to it, so the output must be empty)."""
    values = {"VENV": VENV, "STATE": tmp_path, "ENV_FILE": tmp_path / "env"}
    for name in UNITS:
        (tmp_path / name).write_text(fill(name, values))
    names = [str(tmp_path / name.replace("@.", "@8000.")) for name in UNITS]
    done = subprocess.run([str(SYSTEMD_ANALYZE), "verify", "--man=no", *names],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
