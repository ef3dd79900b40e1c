"""Fixtures for tests that need a real server: free loopback ports, and the app as in
production (gunicorn with gunicorn.conf.py, in a process group of its own)."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from consent_server.ledger.signing import generate

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port():
    """free_port(): a TCP port on 127.0.0.1 that nothing listens on now."""
    return _free_port


class Gunicorn:
    """`gunicorn -c gunicorn.conf.py wsgi:app` on a free port; its output goes to log_path."""

    def __init__(self, database_url: str, signing_key: str, log_path: Path, workers: int = 1,
                 args: tuple[str, ...] = (), **env: str):
        self.args = args  # extra command line options, which win over the file
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, "CONSENT_DATABASE_URL": database_url,
                    "CONSENT_SECRET_KEY": "test-secret", "CONSENT_EMAIL_HASH_KEY": "test-email",
                    "CONSENT_SIGNING_KEY": signing_key,
                    "CONSENT_INSTANCE_PATH": str(log_path.parent / "instance"),
                    "CONSENT_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers),
                    "CONSENT_PUBLIC_URL": self.url,
                    "CONSENT_ALLOWED_ORIGINS": "https://shop.example",
                    # Tests of several workers count limits per worker, knowingly (S-03).
                    "CONSENT_RATELIMIT_PER_WORKER": "1", **env}
        self.process: subprocess.Popen | None = None

    def start(self, wait: float = 30) -> "Gunicorn":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), *self.args, "wsgi:app"],
            cwd=ROOT,
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group (arbiter and workers), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    """redis://127.0.0.1:6379/0 when a Redis answers there (limits shared between processes),
    else None."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return "redis://127.0.0.1:6379/0" if sock.recv(16).startswith(b"+PONG") else None
    except OSError:
        return None


@pytest.fixture
def shared_redis(redis_url) -> str:
    """The Redis of `redis_url`; without one the test is skipped, saying so."""
    if redis_url is None:
        pytest.skip("no Redis answers on 127.0.0.1:6379")
    return redis_url


@pytest.fixture(scope="session")
def gunicorn_signing_key() -> str:
    """One signing key for every gunicorn of the session (as one deployment has one)."""
    return generate()


@pytest.fixture
def gunicorn(database_url, gunicorn_signing_key):
    """gunicorn(log_path, workers=1, args=(), **env): the production server on the test
    database (use it as a context manager); any still running after the test is stopped."""
    made = []

    def server(log_path: Path, workers: int = 1, args: tuple[str, ...] = (), **env: str):
        made.append(Gunicorn(database_url, gunicorn_signing_key, log_path, workers, args, **env))
        return made[-1]

    yield server
    for each in made:
        each.stop()
