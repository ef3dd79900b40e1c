"""E-mail addresses: validated and normalised (M-05), known to the ledger only by a keyed hash."""
import hashlib
import hmac

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """Not an e-mail address we can send to; the message says why (in English)."""


def normalise(address: str) -> str:
    """The address as matched and stored: trimmed, its domain lower-cased, its local part kept.

    Syntax only (no DNS look-up): a typo'd domain is the sign-up's confirmation mail's problem.
    """
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except (EmailNotValidError, AttributeError) as error:
        raise InvalidAddress(str(error) or "Not an e-mail address.") from None


def subject_hash(key: str, address: str) -> str:
    """The person's subject in ledger and state: HMAC-SHA256 of the normalised address under
    CONSENT_EMAIL_HASH_KEY (a key of its own, so rotating the secret key loses no subject)."""
    return hmac.new(key.encode(), normalise(address).encode(), hashlib.sha256).hexdigest()
