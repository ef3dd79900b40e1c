"""Rate limits on public writes (S-03): per client network, and per consent id."""
import logging
import time

from flask import Flask, current_app
from flask_limiter import RateLimitExceeded
from flask_smorest import abort
from limits import parse

from ..config import Config
from ..errors import from_http_exception
from ..extensions import limiter
from .network import client_site

PUBLIC_WRITES = ["POST", "DELETE"]
log = logging.getLogger(__name__)


def limit_public_writes(blueprint) -> None:
    """Every POST and DELETE of a public blueprint draws on one budget per client network,
    CONSENT_RATELIMIT_PUBLIC (shared by every public write, whatever its route), and a looser
    one per IPv6 /48, CONSENT_RATELIMIT_PUBLIC_SITE: the /64s inside one /48 share it."""
    limiter.shared_limit(lambda: current_app.config["RATELIMIT_PUBLIC"], scope="public-write",
                         methods=PUBLIC_WRITES)(blueprint)
    limiter.shared_limit(lambda: current_app.config["RATELIMIT_PUBLIC_SITE"],
                         scope="public-write-48", key_func=client_site,
                         methods=PUBLIC_WRITES)(blueprint)


def limit_per_consent(consent_id: str | None) -> None:
    """A second budget per consent id, CONSENT_RATELIMIT_PER_CONSENT: one device cannot be
    written into from many addresses at once. A 429 problem with Retry-After when spent."""
    if not consent_id or not limiter.enabled:
        return
    item = parse(current_app.config["RATELIMIT_PER_CONSENT"])
    try:
        allowed = limiter.limiter.hit(item, "consent", consent_id)
        reset = None if allowed else limiter.limiter.get_window_stats(
            item, "consent", consent_id).reset_time
    except Exception:  # the storage (Redis) is down: serve, as Flask-Limiter does (below)
        log.warning("rate-limit storage unreachable; the per-consent limit is not applied")
        return
    if not allowed:
        abort(429, message="Too many writes for this consent; try again later.",
              headers={"Retry-After": str(max(1, int(reset - time.time())))})


def init_app(app: Flask) -> None:
    """Flask-Limiter with our settings, and a 429 that says when to try again."""
    cfg = app.config
    cfg["RATELIMIT_STORAGE_URI"] = cfg["RATELIMIT_STORAGE_URL"]
    cfg.setdefault("RATELIMIT_KEY_PREFIX", "consent")
    # No X-RateLimit-* headers on every answer: they cost two more reads of the storage (Redis
    # round trips) per request. A refusal still says when to come back (Retry-After, below).
    cfg.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # A Redis outage must not stop consents being recorded: count in memory meanwhile.
    cfg.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    cfg.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, refused)


def refused(error: RateLimitExceeded):
    """A 429 problem with Retry-After: the seconds until the spent window resets."""
    response = from_http_exception(error)
    try:
        reset = limiter.current_limit.reset_at
    except Exception:  # the storage is down: the window's length is a safe bound
        reset = time.time() + error.limit.limit.get_expiry()
    response.headers["Retry-After"] = str(max(1, int(reset - time.time())))
    return response


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
