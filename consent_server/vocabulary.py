"""The fixed words of the ledger and the API: actions, sources, subjects, bases, purposes, check
reasons and roles.

Only add, never remove or rename: these values are stored in events and covered by their hashes
(ledger/chain.py), and clients are written against them. StrEnum members are their values, so
they compare, hash and serialise as the plain strings.
"""
from enum import StrEnum

# The site of a deployment with one site, and of every event recorded before sites existed
# (migration 0013): the id a site file without [[sites]] gets (consent/sites.py).
DEFAULT_SITE = "default"


class Action(StrEnum):
    GRANT = "grant"
    UPDATE = "update"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"
    ERASE = "erase"


class Source(StrEnum):
    BANNER = "banner"
    PREFERENCES = "preferences"
    SIGNUP = "signup"
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    API = "api"
    GPC = "gpc"
    SYSTEM = "system"


class SubjectType(StrEnum):
    DEVICE = "device"  # a browser, known by its consent id
    PERSON = "person"  # an e-mail address, known by its keyed hash


class Basis(StrEnum):
    """A person's legal basis for marketing."""

    CONSENT = "consent"
    CUSTOMER = "customer"  # markedsføringsloven § 15 third paragraph (M-07)


class Purpose(StrEnum):
    NECESSARY = "necessary"
    ANALYTICS = "analytics"
    MARKETING = "marketing"
    NEWSLETTER = "newsletter"


REQUIRED = frozenset({Purpose.NECESSARY})  # always on, never a choice (C-02)


class Reason(StrEnum):
    """Why the pre-send check allows or denies an address (M-01)."""

    CONSENT = "consent"
    CUSTOMER = "customer"
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    PENDING = "pending"
    ERASED = "erased"
    EXPIRED = "expired"
    INVALID = "invalid"
    RESTRICTED = "restricted"  # the person restricted processing (Art. 18, R-04)
    OBJECTED = "objected"  # an objection to marketing (every unsubscribe from it): absolute
    CUSTOMER_LAPSED = "customer_lapsed"  # the last sale is CUSTOMER_BASIS_MONTHS old
    CUSTOMER_NEEDS_CATEGORY = "customer_needs_category"  # a customer, but no category asked


class Role(StrEnum):
    MARKETING = "marketing"
    AUDITOR = "auditor"
    ADMIN = "admin"


# The public API may record a choice from these sources; the rest are the server's own.
PUBLIC_SOURCES = (Source.BANNER.value, Source.PREFERENCES.value, Source.API.value)
