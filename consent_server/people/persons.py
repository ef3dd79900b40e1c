"""Person subjects: the address table, the keyed hash that stands for an address, person events.

The ledger and state know a person only by `subject` (the keyed hash of the address it first
came with); the address itself sits in `person` alone, the one place erasure must clear.
"""
import hashlib
import hmac
import json
import re
from datetime import datetime
from functools import lru_cache

from flask import current_app
from sqlalchemy import insert, select, update

from .. import ledger
from ..consent import purposes
from ..errors import Invalid
from ..models import CustomerBasis, Person
from ..vocabulary import DEFAULT_SITE, Action, SubjectType
from .addresses import InvalidAddress, fold, normalise, subject_hash

PERSON = Person.__table__
CUSTOMER = CustomerBasis.__table__
KEYS = purposes.PERSON_KEYS  # marketing, newsletter


def address_hash(address: str) -> str:
    """The keyed hash (CONSENT_EMAIL_HASH_KEY) of an address, case-folded (M-05);
    InvalidAddress when it is none."""
    return subject_hash(current_app.config["EMAIL_HASH_KEY"], address)


def hasher():
    """(address_hash, its form before migration 0008) for addresses already normalised, the
    key looked up once (for a batch); the old form is None where it is the same."""
    key = current_app.config["EMAIL_HASH_KEY"].encode()

    def both(address: str) -> tuple[str, str | None]:
        folded = fold(address)
        new = hmac.digest(key, folded.encode(), hashlib.sha256).hex()
        if folded == address:
            return new, None
        return new, hmac.digest(key, address.encode(), hashlib.sha256).hex()

    return both


def no_choices() -> dict[str, bool]:
    """A person's choices with every purpose off."""
    return {key: False for key in KEYS}


def choices_of(state) -> dict[str, bool]:
    """A person's current choices from their state row (all off when none or erased)."""
    if state is None or state.action == Action.ERASE:
        return no_choices()
    return {**no_choices(), **json.loads(state.choices)}


def event(subject: str, *, action: str, choices: dict, policy_version: str, language: str,
          text_hash: str | None, source: str, ip: str | None = None,
          user_agent: str | None = None, basis: str | None = None,
          details: dict | None = None, site: str = DEFAULT_SITE) -> dict:
    """A person's ledger event (see ledger.new_event): basis is "consent" or "customer" for
    marketing, details a small JSON object without personal data (a customer's sale, a
    confirmation's sign-up time); site the one whose notice it is recorded under
    (notices.site_of), where the person signed up."""
    return ledger.new_event(subject=subject, subject_type=SubjectType.PERSON, action=action,
                            choices=choices, policy_version=policy_version, language=language,
                            text_hash=text_hash, source=source, ip=ip,
                            user_agent=user_agent[:512] if user_agent else None,
                            basis=basis, details=details, site=site)


def by_hash(conn, hashed: str):
    """The person row whose current address has this keyed hash, or None."""
    return conn.execute(select(PERSON).where(PERSON.c.address_hash == hashed)).first()


def by_subject(conn, subject: str):
    """The person row of a subject, or None."""
    return conn.execute(select(PERSON).where(PERSON.c.subject == subject)).first()


def by_address(conn, address: str):
    """The person row an address is known by, or None: by its case-folded keyed hash, else by
    the hash it had before migration 0008 (a person erased before it: still suppressed)."""
    new, old = hasher()(address)
    person = by_hash(conn, new)
    if person is None and old is not None:
        person = by_hash(conn, old)
    return person


def find_or_add(conn, address: str, language: str, consent_id: str | None, now: datetime):
    """The person row of a normalised address, added when new; an erased one gets its address
    back (and one known by its hash from before migration 0008 the case-folded one). Run under
    the chain lock (conn is the writer's), which serialises writers of people."""
    hashed = address_hash(address)
    person = by_address(conn, address)
    if person is None:
        conn.execute(insert(PERSON).values(
            subject=hashed, address_hash=hashed, email=address, language=language,
            consent_id=consent_id, created_at=now, mail_due=False, withdrawn="{}"))
    elif person.email != address or person.address_hash != hashed:
        conn.execute(update(PERSON).where(PERSON.c.subject == person.subject)
                     .values(email=address, address_hash=hashed))
    return by_hash(conn, hashed)


def valid_address(email: str, field: str = "email") -> str:
    """A normalised address; Invalid (422, naming the field) when it is none."""
    try:
        return normalise(email)
    except InvalidAddress as error:
        raise Invalid("This is not an e-mail address we can write to.",
                      {field: [str(error)]}) from None


def subject_key(session, value: str) -> str:
    """The ledger's subject for what an auditor typed: a consent id as it is; for an e-mail
    address, the subject of the person whose current address it is (a corrected address keeps
    its first subject, R-04), else the address's keyed hash."""
    if "@" not in value:
        return value
    address = valid_address(value, "subject")
    person = by_address(session, address)
    return person.subject if person is not None else address_hash(address)


def withdrawn_of(person) -> dict[str, str]:
    """{purpose: time} of the person's withdrawals."""
    return json.loads(person.withdrawn) if person is not None and person.withdrawn else {}


# A batch of addresses (a marketing check) through email-validator alone takes 50 µs an address,
# 5 s for 100,000. An unquoted ASCII local part is kept as written by it, and a domain is valid
# or not whatever the local part: so the domain alone goes through email-validator, once per
# distinct domain, and anything else (quoted, non-ASCII, near the length limits) takes the
# plain path. tests/test_marketing.py holds the two to the same answers.
DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


@lru_cache(maxsize=65536)
def _domain(domain: str) -> str | None:
    try:
        return normalise("a@" + domain).rpartition("@")[2]
    except InvalidAddress:
        return None


def normalise_fast(address: str) -> str:
    """normalise(address), faster for the common case; InvalidAddress like it."""
    if isinstance(address, str):
        text = address.strip()
        local, at, domain = text.rpartition("@")
        if at and len(text) < 200 and len(local) <= 64 and DOT_ATOM.match(local):
            normal_domain = _domain(domain)
            if normal_domain is None:
                raise InvalidAddress("The domain name is not valid.")
            return f"{local}@{normal_domain}"
    return normalise(address)
