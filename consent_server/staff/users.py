"""Staff accounts of the console: create, disable, enable, roles, passwords (scrypt), one-time
set-password links (also to reset one), and sign-in throttled per account and per IP."""
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import case, delete, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .. import database
from ..errors import Invalid, TooManyRequests, Unauthorized
from ..models import SignInThrottle, StaffUser, UTCDateTime
from ..people import addresses
from ..vocabulary import Role

USERS = StaffUser.__table__
THROTTLE = SignInThrottle.__table__

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
LINK_SALT = "console-set-password"
LINK_MAX_AGE = 48 * 3600  # seconds a set-password link stays valid
WINDOW = timedelta(hours=1)  # failures older than this are forgotten
FREE_ACCOUNT, FREE_IP = 5, 20  # failures before each further try must wait
MAX_WAIT = 15 * 60  # seconds
# Checked when no account matches, so an unknown address costs as long as a known one.
_DUMMY = generate_password_hash("not a password of anyone", method="scrypt")


class WrongCredentials(Unauthorized):
    """The address and password do not open an account (whichever of them is wrong)."""


class Throttled(TooManyRequests):
    """Too many failed sign-ins from this account or address; wait before the next try."""

    def __init__(self, wait: int):
        super().__init__(f"Too many failed sign-ins; try again in {wait} seconds.")
        self.wait = wait


def normalise_email(email: str) -> str:
    """A staff address as stored: validated and normalised like a subject's (M-05)."""
    try:
        return addresses.normalise(email)
    except addresses.InvalidAddress as error:
        raise Invalid("Not an e-mail address.", {"email": [str(error)]}) from None


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid("The password is too short or too long.",
                      {"password": [f"Between {MIN_PASSWORD} and {MAX_PASSWORD} characters."]})


def create_user(session: Session, email: str, role: str, password: str | None,
                now: datetime) -> StaffUser:
    """A new account; without a password it cannot sign in until one is set by link."""
    if role not in set(Role):
        raise Invalid("Unknown role.", {"role": [f"One of {', '.join(Role)}."]})
    email = normalise_email(email)
    if password is not None:
        _check_password(password)
    with database.writing(session) as conn:
        if conn.execute(select(USERS.c.id).where(USERS.c.email == email)).first() is not None:
            raise Invalid("An account with this address exists.", {"email": ["Already taken."]})
        user_id = conn.execute(insert(USERS).values(
            email=email, role=role, created_at=now,
            password_hash=generate_password_hash(password, method="scrypt")
            if password is not None else None).returning(USERS.c.id)).scalar_one()
    return _one(session, StaffUser.id == user_id)


def _one(session: Session, where) -> StaffUser | None:
    """The account matching where, as the database has it now (not as this session last saw
    it: writes go through units of work of their own)."""
    return session.execute(select(StaffUser).where(where)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def find(session: Session, ident: str) -> StaffUser | None:
    """The account with this id or address, or None."""
    if ident.isdigit():
        return _one(session, StaffUser.id == int(ident))
    try:
        email = addresses.normalise(ident)
    except addresses.InvalidAddress:
        return None
    return _one(session, StaffUser.email == email)


def all_users(session: Session) -> list[StaffUser]:
    """Every account, oldest first."""
    return list(session.execute(select(StaffUser).order_by(StaffUser.id)).scalars())


def disable_user(session: Session, ident: str, now: datetime) -> StaffUser:
    """Disable an account by id or address (its sessions end at once); LookupError if none."""
    user = find(session, ident)
    if user is None:
        raise LookupError(f"no account {ident!r}")
    with database.writing(session) as conn:
        conn.execute(update(USERS).where(USERS.c.id == user.id, USERS.c.disabled_at.is_(None))
                     .values(disabled_at=now, session_key=None))
    return _one(session, StaffUser.id == user.id)


def _found(session: Session, ident: str) -> StaffUser:
    user = find(session, ident)
    if user is None:
        raise LookupError(f"no account {ident!r}")
    return user


def enable_user(session: Session, ident: str) -> StaffUser:
    """Enable a disabled account by id or address; LookupError if none."""
    user = _found(session, ident)
    with database.writing(session) as conn:
        conn.execute(update(USERS).where(USERS.c.id == user.id).values(disabled_at=None))
    return _one(session, StaffUser.id == user.id)


def set_role(session: Session, ident: str, role: str) -> StaffUser:
    """Give an account another role (its next request has it); LookupError if none."""
    if role not in set(Role):
        raise Invalid("Unknown role.", {"role": [f"One of {', '.join(Role)}."]})
    user = _found(session, ident)
    with database.writing(session) as conn:
        conn.execute(update(USERS).where(USERS.c.id == user.id).values(role=role))
    return _one(session, StaffUser.id == user.id)


def reset_password(session: Session, ident: str) -> StaffUser:
    """Replace an account's password by a random one nobody knows: the old one and every earlier
    link stop working, and its owner chooses a new one through set_password_url (a new one-time
    link); LookupError if none."""
    user = _found(session, ident)
    unknown = generate_password_hash(secrets.token_urlsafe(32), method="scrypt")
    with database.writing(session) as conn:
        conn.execute(update(USERS).where(USERS.c.id == user.id).values(password_hash=unknown))
    return _one(session, StaffUser.id == user.id)


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """Set a new password (scrypt); earlier set-password links and sessions stop working."""
    _check_password(password)
    with database.writing(session) as conn:
        conn.execute(update(USERS).where(USERS.c.id == user.id).values(
            password_hash=generate_password_hash(password, method="scrypt"), session_key=None))


def start_session(session: Session, user: StaffUser) -> StaffUser:
    """The account with a session key for a new console session: the one its other sessions
    name, or a new random one when it has none (after a sign-out)."""
    with database.writing(session) as conn:
        conn.execute(update(USERS).where(USERS.c.id == user.id, USERS.c.session_key.is_(None))
                     .values(session_key=secrets.token_urlsafe(32)))
    return _one(session, StaffUser.id == user.id)


def end_sessions(session: Session, user: StaffUser) -> None:
    """End every console session of the account, server-side: the key they name is cleared."""
    with database.writing(session) as conn:
        conn.execute(update(USERS).where(USERS.c.id == user.id).values(session_key=None))


def user_for_session(session: Session, user_id: str) -> StaffUser | None:
    """The live account a session cookie names (`<id>.<session key>`), or None when the key
    is not the account's now (signed out, new password, disabled) or it is malformed."""
    ident, _, key = user_id.partition(".")
    user = session.get(StaffUser, int(ident)) if ident.isdigit() and key else None
    if user is None or not user.is_active or user.session_key is None:
        return None
    return user if hmac.compare_digest(user.session_key, key) else None


def _fingerprint(user: StaffUser) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def set_password_token(secret_key: str, user: StaffUser) -> str:
    """A signed link token for this account; single use, as it names the current password."""
    return URLSafeTimedSerializer(secret_key, salt=LINK_SALT).dumps(
        {"u": user.id, "p": _fingerprint(user)})


def set_password_url(user: StaffUser) -> str:
    """The one-time link to choose a password, on the public URL."""
    token = set_password_token(current_app.secret_key, user)
    return current_app.config["PUBLIC_URL"].rstrip("/") + f"/console/set-password/{token}"


def user_for_token(session: Session, secret_key: str, token: str) -> StaffUser | None:
    """The live account a set-password token was made for; None when it is spent or expired."""
    try:
        data = URLSafeTimedSerializer(secret_key, salt=LINK_SALT).loads(token,
                                                                         max_age=LINK_MAX_AGE)
        user = _one(session, StaffUser.id == int(data["u"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if user is None or not user.is_active or not hmac.compare_digest(_fingerprint(user),
                                                                    str(data.get("p"))):
        return None
    return user


@dataclass
class _Keys:
    account: str
    ip: str


def _throttle_keys(secret_key: str, email: str, ip: str | None) -> _Keys:
    def digest(value: str) -> str:
        return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()[:64]

    try:
        email = addresses.normalise(email)
    except addresses.InvalidAddress:
        email = email.strip().lower()
    return _Keys("account:" + digest(email), "ip:" + digest(ip or "-"))


def _wait(row: SignInThrottle | None, free: int, now: datetime) -> int:
    """Seconds before the next try may be checked: doubling after `free` failures."""
    if row is None or now - row.last_failure_at > WINDOW or row.failures < free:
        return 0
    backoff = min(2 ** (row.failures - free), MAX_WAIT)
    return max(0, int(backoff - (now - row.last_failure_at).total_seconds() + 0.999))


def _row(conn, key: str):
    return conn.execute(select(THROTTLE).where(THROTTLE.c.key == key)).first()


def _insert(conn):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(THROTTLE)


def _take(conn, key: str, free: int, now: datetime) -> bool:
    """Count one attempt on a counter before its password is checked, in one statement (an
    upsert whose update only happens while the counter allows a try): of any number of
    parallel attempts, only as many as the counter allows get through. False when it does not
    allow one now (nothing is counted then)."""
    stale = literal(now - WINDOW, UTCDateTime())
    # The time a try after n failures may come, per n past the free ones (2**k s, at most
    # MAX_WAIT), as literals: the same statement on both databases, no date arithmetic in SQL.
    steps = {free + k: literal(now - timedelta(seconds=2 ** k), UTCDateTime())
             for k in range(MAX_WAIT.bit_length()) if 2 ** k < MAX_WAIT}
    due = case(steps, value=THROTTLE.c.failures,
               else_=literal(now - timedelta(seconds=MAX_WAIT), UTCDateTime()))
    statement = _insert(conn).values(key=key, failures=1, last_failure_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[THROTTLE.c.key],
        set_={"failures": case((THROTTLE.c.last_failure_at < stale, 1),
                               else_=THROTTLE.c.failures + 1),
              "last_failure_at": statement.excluded.last_failure_at},
        where=or_(THROTTLE.c.last_failure_at < stale, THROTTLE.c.failures < free,
                  THROTTLE.c.last_failure_at <= due))
    return conn.execute(statement.returning(THROTTLE.c.failures)).first() is not None


def authenticate(session: Session, secret_key: str, email: str, password: str,
                 ip: str | None, now: datetime) -> StaffUser:
    """The live account for this address and password.

    Every try is counted on both counters before its password is checked (REQ S-03): while
    this account or this IP (a client network: an IPv6 /64) has failed too often lately, the
    try is Throttled, the right password too, so waiting is the only way on. WrongCredentials
    alike for an unknown address, a wrong password, a disabled account or one with no password
    yet. Both counters are keyed hashes of the address typed and of the network, so unknown
    addresses are counted like known ones. A success clears the account's counter and gives
    the network its try back.
    """
    keys = _throttle_keys(secret_key, email, ip)
    with database.writing(session) as conn:
        if not (_take(conn, keys.account, FREE_ACCOUNT, now)
                and _take(conn, keys.ip, FREE_IP, now)):
            wait = max(_wait(_row(conn, keys.account), FREE_ACCOUNT, now),
                       _wait(_row(conn, keys.ip), FREE_IP, now), 1)
            raise Throttled(wait)  # rolls back: a refused try counts on neither counter
    user = find(session, email) if "@" in email else None
    usable = user is not None and user.is_active and user.password_hash is not None
    matched = check_password_hash(user.password_hash if usable else _DUMMY, password[:MAX_PASSWORD])
    if usable and matched:
        with database.writing(session) as conn:
            conn.execute(delete(THROTTLE).where(THROTTLE.c.key == keys.account))
            conn.execute(update(THROTTLE).where(THROTTLE.c.key == keys.ip,
                                                THROTTLE.c.failures > 0)
                         .values(failures=THROTTLE.c.failures - 1))
            conn.execute(delete(THROTTLE).where(THROTTLE.c.key == keys.ip,
                                                THROTTLE.c.failures <= 0))
    if not (usable and matched):
        raise WrongCredentials("Wrong address or password.")
    return user
