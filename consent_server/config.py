"""Committed defaults; CONSENT_* environment variables override them (see README)."""
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# The repository root when running from a checkout (editable install), else None (a wheel).
CHECKOUT = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").is_file() else None


def resource(name: str) -> Path:
    """A data folder (widget, translations, migrations): inside the package when installed from
    the wheel, which carries them there; else the checkout's top-level folder."""
    packaged = PACKAGE / name
    return packaged if packaged.exists() or CHECKOUT is None else CHECKOUT / name


class Config:
    """Defaults for every setting. Secrets and the database URL come from the environment."""

    SECRET_KEY = None
    SIGNING_KEY = None  # Ed25519, signs checkpoints and receipts; else instance/signing_key
    EMAIL_HASH_KEY = None  # keys the person subjects' HMAC (addresses.subject_hash); never rotate
    DATABASE_URL = None  # CONSENT_DATABASE_URL, or plain DATABASE_URL; default: SQLite in instance/
    ALLOWED_ORIGINS = ""  # comma separated, e.g. "https://www.exentri.no,https://exentri.no"
    PUBLIC_URL = "http://127.0.0.1:5000"
    WITNESSES = ""  # the log's witnesses' keys (<name>+<hex id>+<base64>), comma separated
    MAX_AGE_DAYS = 365
    RETENTION_DAYS = None  # default: MAX_AGE_DAYS + 3 years
    PERSON_RETENTION_DAYS = 30  # an address is cleared this long after its last purpose ended
    CUSTOMER_BASIS_MONTHS = 24  # the existing-customer basis lapses this long after the last sale
    TRUSTED_PROXIES = 0  # how many reverse proxies set X-Forwarded-For in front of us
    PUBLIC_MAX_BODY = 16 * 1024
    RATELIMIT_PUBLIC = "60/minute"  # public writes per client network (an IPv4 address, IPv6 /64)
    RATELIMIT_PUBLIC_SITE = "600/minute"  # the same, per IPv6 /48 (its /64s share it)
    RATELIMIT_PER_CONSENT = "10/minute"  # writes per consent id, from wherever
    RATELIMIT_STORAGE_URL = "memory://"  # redis://host:6379 to share limits between instances
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024  # marketing check bodies; public routes cap lower
    COOKIE_NAME = "consent"
    # The site's parent domain when this server runs on a subdomain of it (consent.example.no
    # for www.example.no): the server then sets the consent cookie on it (see README).
    COOKIE_DOMAIN = None
    SITE_FILE = None  # cookie declaration and notice additions (TOML); default: the demo shop
    DOUBLE_OPT_IN = True  # a sign-up is pending until the confirmation link is used (M-02)
    CONFIRM_MAX_AGE_HOURS = 48  # confirmation and access links expire; unsubscribe links never
    CONFIRM_RESEND_MINUTES = 10  # at most one confirmation mail per address in this time
    SMTP_HOST = None  # none: mails are written to MAIL_OUTBOX as .eml files (development)
    SMTP_PORT = 587
    SMTP_USER = None
    SMTP_PASSWORD = None
    SMTP_STARTTLS = True
    SMTP_TIMEOUT = 10  # seconds
    MAIL_FROM = "Exentri <no-reply@localhost>"
    MAIL_OUTBOX = None  # default: instance/outbox
    CHECK_MAX_ADDRESSES = 100_000  # per marketing check or customers call (S-04)
    LOG_FORMAT = "text"  # or "json": every log line one JSON object (http/logs.py)
    METRICS_TOKEN = None  # /metrics answers `Authorization: Bearer <it>`; 404 while unset
    WEBHOOK_LOOPBACK_HTTP = False  # tests only: http:// webhook endpoints on loopback addresses
    LANGUAGES = ("nb", "nn", "en")  # bokmål, nynorsk (N-08), English
    DEFAULT_LANGUAGE = "nb"

    # The staff console's session cookie (REQ S-05): only sent to /console, never cross-site,
    # never to scripts; Secure when PUBLIC_URL is https. It ends after CONSOLE_IDLE_MINUTES
    # without a request (the signed cookie's age is checked on every request).
    CONSOLE_IDLE_MINUTES = 30
    CONSOLE_MAX_HOURS = 12  # and after this many hours however active (absolute lifetime)
    SESSION_COOKIE_NAME = "console_session"
    SESSION_COOKIE_PATH = "/console"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Strict"
    # CSRF is checked by the console on its own forms; the JSON APIs take no cookies.
    WTF_CSRF_CHECK_DEFAULT = False

    BABEL_DEFAULT_LOCALE = "nb"
    BABEL_TRANSLATION_DIRECTORIES = str(resource("translations"))

    # No pre-ping: it costs a round trip on every request. A connection the database dropped
    # fails one request and is replaced; recycling keeps them from going stale behind firewalls.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_recycle": 1800}
    # Threads that serve requests in one process (gunicorn sets it from its `threads`): the
    # PostgreSQL pool is then sized from it, so no request opens a connection. Unset (`flask
    # run`, the CLI, tests): SQLAlchemy's own pool.
    THREADS = None

    API_TITLE = "consent-server"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    JSON_SORT_KEYS = False


def database_url(config, instance_path: str) -> str:
    """The database URL: CONSENT_DATABASE_URL, DATABASE_URL, else SQLite in the instance folder."""
    url = config.get("DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "consent.db")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def origins(value) -> list[str]:
    """CONSENT_ALLOWED_ORIGINS as a list (a comma-separated string or a list)."""
    if isinstance(value, str):
        value = value.split(",")
    return [o.strip().rstrip("/") for o in value or () if o.strip()]
