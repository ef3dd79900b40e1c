"""Rate limits on public writes (S-03), and the security headers on every response (S-05)."""
import ipaddress
import logging
import secrets
import time

from flask import Flask, Response, current_app, g, request
from flask_smorest import abort
from limits import parse

from .extensions import limiter

PUBLIC_WRITES = ["POST", "DELETE"]
log = logging.getLogger(__name__)


def client_network() -> str:
    """The key of a client's per-IP limit: its address, or its /64 for IPv6 (one household's
    prefix holds more addresses than anyone could count through)."""
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


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


# Our own pages: scripts and styles from us or carrying this response's nonce, nothing inline,
# never framed. The banner's script adopts its styles (or nonces them): it works under this.
PAGE_CSP = ("default-src 'self'; script-src 'self'{nonce}; style-src 'self'{nonce}; "
            "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
# Everything else (JSON, widget.js): a policy for the document itself, were one to open it in
# a tab. It does not reach a customer's page that runs widget.js or calls the API.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
HSTS = "max-age=31536000"


def csp_nonce() -> str:
    """This response's nonce, for templates: `<style nonce="{{ csp_nonce() }}">`."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(response: Response) -> Response:
    """The headers every response carries (S-05); a page that set its own CSP keeps it."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if "Content-Security-Policy" not in headers:
        if response.mimetype == "text/html":
            nonce = f" 'nonce-{g.csp_nonce}'" if "csp_nonce" in g else ""
            headers["Content-Security-Policy"] = PAGE_CSP.format(nonce=nonce)
        else:
            headers["Content-Security-Policy"] = OTHER_CSP
    if response.mimetype == "text/html":
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["PUBLIC_URL"].startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """The headers on every response, and csp_nonce() in templates."""
    app.after_request(security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
