"""E-mail addresses: validated and normalised (M-05), known to the ledger only by a keyed hash."""
import hashlib
import hmac
import unicodedata

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """Not an e-mail address we can send to; the message says why (in English)."""


def normalise(address: str) -> str:
    """The address as stored and sent to: trimmed, NFC, its domain lower-cased, its local part
    kept as typed (fold() gives the form that is matched).

    Syntax only (no DNS look-up): a typo'd domain is the sign-up's confirmation mail's problem.
    """
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except (EmailNotValidError, AttributeError) as error:
        raise InvalidAddress(str(error) or "Not an e-mail address.") from None


def fold(address: str) -> str:
    """A normalised address as matched (M-05): the whole address case-folded, then NFC again
    (case folding can take a character out of NFC). Every mail provider treats `Kari@x.no` and
    `kari@x.no` as one mailbox; the address kept for sending keeps its spelling."""
    folded = address.casefold()
    return folded if folded.isascii() else unicodedata.normalize("NFC", folded)


def keyed(key: str, text: str) -> str:
    """HMAC-SHA256 of a text under a key, in hex."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def subject_hash(key: str, address: str) -> str:
    """The keyed hash an address is known by: HMAC-SHA256 of the normalised, case-folded address
    under CONSENT_EMAIL_HASH_KEY (a key of its own, so rotating the secret key loses no
    subject)."""
    return keyed(key, fold(normalise(address)))


def legacy_hash(key: str, address: str) -> str:
    """The keyed hash as taken before migration 0008 (the local part as typed): what a person
    erased before it is still known by, so that their address stays suppressed."""
    return keyed(key, normalise(address))
