"""Rate limits on public writes (S-03): per client network, per IPv6 /48, per consent id.

The `limits` library counts (memory, or Redis shared by every process and host), once per public
write and only there. Flask-Limiter, which wraps it, ran a hook on every request that resolved
and filtered its limits and drew on each shared limit: in one process that nearly doubled the CPU
a POST took (3.2 against 1.8 ms, bench/README.md), and it held one storage for every app built in
the process."""
import logging
import time

from flask import Flask, current_app, request
from flask_smorest import abort
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from ..config import Config
from .network import network_of

PUBLIC_WRITES = frozenset({"POST", "DELETE"})
RETRY_AFTER_OUTAGE = 30  # seconds of counting in memory before the storage is tried again
log = logging.getLogger(__name__)


class Budgets:
    """One app's counters: its storage, and the memory that stands in while that is down."""

    def __init__(self, config):
        self.enabled = config["RATELIMIT_ENABLED"]
        self.prefix = config["RATELIMIT_KEY_PREFIX"]
        self.shared = FixedWindowRateLimiter(storage_from_string(config["RATELIMIT_STORAGE_URL"]))
        self.memory = FixedWindowRateLimiter(MemoryStorage())
        self.outage_until = 0.0

    def hit(self, limit: str, scope: str, key: str) -> float | None:
        """Draw one from the budget `limit` ("60/minute") of `key`: None, or when it is spent
        the time its window resets. A storage outage must not stop consents being recorded:
        count in memory meanwhile (no failed connection per request), and log it once, without
        the key."""
        item = parse(limit)
        if time.time() >= self.outage_until:
            try:
                return self._draw(self.shared, item, scope, key)
            except Exception:  # any failure of the storage's client (Redis down, timeout)
                log.warning("rate-limit storage unreachable; counting in memory for %d s",
                            RETRY_AFTER_OUTAGE)
                self.outage_until = time.time() + RETRY_AFTER_OUTAGE
        return self._draw(self.memory, item, scope, key)

    def _draw(self, counter, item, scope, key):
        if counter.hit(item, self.prefix, scope, key):
            return None
        return counter.get_window_stats(item, self.prefix, scope, key).reset_time


def spend(setting: str, scope: str, key: str, message: str) -> None:
    """One write against the budget CONSENT_<setting> of `key`; a 429 problem with Retry-After
    (the seconds until the window resets) when it is spent."""
    budgets = current_app.extensions["consent_limits"]
    if not budgets.enabled or not key:
        return
    reset = budgets.hit(current_app.config[setting], scope, key)
    if reset is not None:
        abort(429, message=message,
              headers={"Retry-After": str(max(1, int(reset - time.time())))})


def limit_public_writes(blueprint) -> None:
    """Every POST and DELETE of a public blueprint draws on one budget per client network,
    CONSENT_RATELIMIT_PUBLIC (shared by every public write, whatever its route), and a looser
    one per IPv6 /48, CONSENT_RATELIMIT_PUBLIC_SITE: the /64s inside one /48 share it."""
    blueprint.before_request(public_write)


def public_write() -> None:
    if request.method not in PUBLIC_WRITES:
        return
    network, site = network_of(request.remote_addr), network_of(request.remote_addr, 48)
    spend("RATELIMIT_PUBLIC", "public-write", network, "Too many writes; try again later.")
    if ":" in site:  # an IPv6 client (an IPv4 address is its own site: counted once above)
        spend("RATELIMIT_PUBLIC_SITE", "public-write-48", site,
              "Too many writes from this network; try again later.")


def limit_per_consent(consent_id: str | None) -> None:
    """A second budget per consent id, CONSENT_RATELIMIT_PER_CONSENT: one device cannot be
    written into from many addresses at once."""
    spend("RATELIMIT_PER_CONSENT", "consent", consent_id or "",
          "Too many writes for this consent; try again later.")


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "consent")
    app.extensions["consent_limits"] = Budgets(app.config)


def per_worker_problem(workers: int, env) -> str | None:
    """Why a server of this many worker processes must not start with these settings (S-03), or
    None: with memory:// each worker counts on its own, so a client gets `workers` times every
    limit. CONSENT_RATELIMIT_PER_WORKER=1 says that is known and wanted."""
    url = env.get("CONSENT_RATELIMIT_STORAGE_URL") or Config.RATELIMIT_STORAGE_URL
    if workers <= 1 or not url.startswith("memory://") or \
            env.get("CONSENT_RATELIMIT_PER_WORKER", "").lower() in ("1", "true", "yes"):
        return None
    return (f"CONSENT_RATELIMIT_STORAGE_URL is {url} while gunicorn runs {workers} workers: each "
            f"would count on its own, letting a client {workers} times every rate limit "
            "through. Set CONSENT_RATELIMIT_STORAGE_URL=redis://host:6379 to share the counts, "
            "or WEB_CONCURRENCY=1, or CONSENT_RATELIMIT_PER_WORKER=1 to accept per-worker "
            "counts.")
