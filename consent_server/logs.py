"""Logs without personal data (S-06): the development server's access log truncates addresses."""
import logging

from .consents import truncate_ip


class TruncatedAddresses(logging.Filter):
    """Werkzeug writes `<address> - - [time] "request" status size`: the address is cut to its
    network part, as the ledger stores it (L-04)."""

    def filter(self, record: logging.LogRecord) -> bool:
        address, sep, rest = record.getMessage().partition(" - - ")
        if sep and " " not in address:
            record.msg, record.args = f"{truncate_ip(address) or '-'}{sep}{rest}", ()
        return True


def install() -> None:
    """Once per process, however many apps are made."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, TruncatedAddresses) for f in logger.filters):
        logger.addFilter(TruncatedAddresses())
