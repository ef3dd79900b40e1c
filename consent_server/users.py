"""Staff accounts of the console: create, disable, passwords (scrypt), one-time set-password
links, and sign-in throttled per account and per IP."""
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from . import addresses
from .errors import DomainError, Invalid
from .keys import ROLES
from .models import SignInThrottle, StaffUser

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
LINK_SALT = "console-set-password"
LINK_MAX_AGE = 48 * 3600  # seconds a set-password link stays valid
WINDOW = timedelta(hours=1)  # failures older than this are forgotten
FREE_ACCOUNT, FREE_IP = 5, 20  # failures before each further try must wait
MAX_WAIT = 15 * 60  # seconds
# Checked when no account matches, so an unknown address costs as long as a known one.
_DUMMY = generate_password_hash("not a password of anyone", method="scrypt")


class WrongCredentials(DomainError):
    """The address and password do not open an account (whichever of them is wrong)."""

    status = 401
    title = "Unauthorized"


class Throttled(DomainError):
    """Too many failed sign-ins from this account or address; wait before the next try."""

    status = 429
    title = "Too Many Requests"

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
    if role not in ROLES:
        raise Invalid("Unknown role.", {"role": [f"One of {', '.join(ROLES)}."]})
    email = normalise_email(email)
    if password is not None:
        _check_password(password)
    if find(session, email) is not None:
        raise Invalid("An account with this address exists.", {"email": ["Already taken."]})
    user = StaffUser(email=email, role=role, created_at=now,
                     password_hash=generate_password_hash(password, method="scrypt")
                     if password is not None else None)
    session.add(user)
    session.commit()
    return user


def find(session: Session, ident: str) -> StaffUser | None:
    """The account with this id or address, or None."""
    if ident.isdigit():
        return session.get(StaffUser, int(ident))
    try:
        email = addresses.normalise(ident)
    except addresses.InvalidAddress:
        return None
    return session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none()


def all_users(session: Session) -> list[StaffUser]:
    """Every account, oldest first."""
    return list(session.execute(select(StaffUser).order_by(StaffUser.id)).scalars())


def disable_user(session: Session, ident: str, now: datetime) -> StaffUser:
    """Disable an account by id or address (its sessions end at once); LookupError if none."""
    user = find(session, ident)
    if user is None:
        raise LookupError(f"no account {ident!r}")
    if user.disabled_at is None:
        user.disabled_at = now
        session.commit()
    return user


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """Set a new password (scrypt); earlier set-password links stop working."""
    _check_password(password)
    user.password_hash = generate_password_hash(password, method="scrypt")
    session.commit()


def _fingerprint(user: StaffUser) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def set_password_token(secret_key: str, user: StaffUser) -> str:
    """A signed link token for this account; single use, as it names the current password."""
    return URLSafeTimedSerializer(secret_key, salt=LINK_SALT).dumps(
        {"u": user.id, "p": _fingerprint(user)})


def user_for_token(session: Session, secret_key: str, token: str) -> StaffUser | None:
    """The live account a set-password token was made for; None when it is spent or expired."""
    try:
        data = URLSafeTimedSerializer(secret_key, salt=LINK_SALT).loads(token,
                                                                         max_age=LINK_MAX_AGE)
        user = session.get(StaffUser, int(data["u"]))
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


def _count(session: Session, key: str, now: datetime) -> None:
    row = session.get(SignInThrottle, key)
    if row is None:
        session.add(SignInThrottle(key=key, failures=1, last_failure_at=now))
        return
    row.failures = 1 if now - row.last_failure_at > WINDOW else row.failures + 1
    row.last_failure_at = now


def authenticate(session: Session, secret_key: str, email: str, password: str,
                 ip: str | None, now: datetime) -> StaffUser:
    """The live account for this address and password.

    Throttled while this account or this IP has failed too often lately (checked before the
    password, so waiting is the only way on); WrongCredentials alike for an unknown address, a
    wrong password, a disabled account or one with no password yet. Both counters are keyed
    hashes of the address typed and of the IP, so unknown addresses are counted like known ones.
    """
    keys = _throttle_keys(secret_key, email, ip)
    wait = max(_wait(session.get(SignInThrottle, keys.account), FREE_ACCOUNT, now),
               _wait(session.get(SignInThrottle, keys.ip), FREE_IP, now))
    if wait:
        session.rollback()
        raise Throttled(wait)
    user = find(session, email) if "@" in email else None
    usable = user is not None and user.is_active and user.password_hash is not None
    matched = check_password_hash(user.password_hash if usable else _DUMMY, password[:MAX_PASSWORD])
    if not (usable and matched):
        _count(session, keys.account, now)
        _count(session, keys.ip, now)
        session.commit()
        raise WrongCredentials("Wrong address or password.")
    if (row := session.get(SignInThrottle, keys.account)) is not None:
        session.delete(row)
    session.commit()
    return user
