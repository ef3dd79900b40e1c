"""Rate limits on public writes (S-03): per client network, and per consent id."""
import logging
import time

from flask import Flask, current_app
from flask_smorest import abort
from limits import parse

from ..extensions import limiter

PUBLIC_WRITES = ["POST", "DELETE"]
log = logging.getLogger(__name__)


def limit_public_writes(blueprint) -> None:
    """Every POST and DELETE of a public blueprint draws on one budget per client network,
    CONSENT_RATELIMIT_PUBLIC (shared by every public write, whatever its route)."""
    limiter.shared_limit(lambda: current_app.config["RATELIMIT_PUBLIC"], scope="public-write",
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


def configure(app: Flask) -> None:
    """Flask-Limiter's settings from ours, before its init_app."""
    cfg = app.config
    cfg["RATELIMIT_STORAGE_URI"] = cfg["RATELIMIT_STORAGE_URL"]
    cfg.setdefault("RATELIMIT_KEY_PREFIX", "consent")
    cfg.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    cfg.setdefault("RATELIMIT_HEADER_RETRY_AFTER_VALUE", "delta-seconds")
    # A Redis outage must not stop consents being recorded: count in memory meanwhile.
    cfg.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    cfg.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
