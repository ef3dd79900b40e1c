"""Logs without personal data (S-06): addresses cut to their network part, no user agent,
referrer, query string or id in a path, in the development server's log and in gunicorn's."""
import logging
import re

from flask import request
from gunicorn.glogging import Logger as GunicornBaseLogger

from .network import truncate_ip

# Anything that may be an IPv4 or IPv6 address inside a message (truncate_ip checks it).
ADDRESS = re.compile(r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)"
                     r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}"
                     r"(?![\w:]|\.\d))")
ROUTE = "consent.route"  # the environ key the app leaves the matched URL rule in


def truncate_addresses(message: str) -> str:
    """Every IP address in message cut to its network part (L-04's /24 and /48)."""
    return ADDRESS.sub(lambda m: truncate_ip(m.group()) or m.group(), message)


class TruncatedAddresses(logging.Filter):
    """A filter that cuts every address in a record's message (werkzeug writes
    `<address> - - [time] "request" status size`; gunicorn's error log names ip=...).

    With min_level, records below it pass untouched (gunicorn's own "Listening at" lines).
    """

    def __init__(self, min_level: int = logging.NOTSET):
        super().__init__()
        self.min_level = min_level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level:
            return True
        message = record.getMessage()
        cut = truncate_addresses(message)
        if cut != message:
            record.msg, record.args = cut, ()
        return True


def install() -> None:
    """Once per process, however many apps are made."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, TruncatedAddresses) for f in logger.filters):
        logger.addFilter(TruncatedAddresses())


def remember_route(response):
    """After each request: leave the URL rule (`/api/v1/consents/<consent_id>`), not the path
    with its ids, where the access log finds it."""
    rule = request.url_rule.rule if request.url_rule is not None else "-"
    request.environ[ROUTE] = rule
    return response


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's logger, with atoms that hold nothing personal: the truncated address, the
    route's rule instead of its path, no query string, user agent, referrer or headers.

    Whatever access_log_format an operator sets, only these can appear.
    """

    ACCESS_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'

    def setup(self, cfg):
        super().setup(cfg)
        for log, level in ((self.error_log, logging.WARNING), (self.access_log, logging.NOTSET)):
            if not any(isinstance(f, TruncatedAddresses) for f in log.filters):
                log.addFilter(TruncatedAddresses(level))

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        rule = environ.get(ROUTE, "-")
        method = environ.get("REQUEST_METHOD", "-")
        return {
            "h": truncate_ip(environ.get("REMOTE_ADDR")) or "-", "l": "-", "u": "-",
            "t": self.now(), "r": f"{method} {rule} {environ.get('SERVER_PROTOCOL', '-')}",
            "s": status, "m": method, "U": rule, "q": "-",
            "H": environ.get("SERVER_PROTOCOL", "-"),
            "b": str(resp.sent) if getattr(resp, "sent", None) is not None else "-",
            "B": getattr(resp, "sent", None), "f": "-", "a": "-",
            "T": request_time.seconds,
            "D": request_time.seconds * 1_000_000 + request_time.microseconds,
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
            "L": f"{request_time.seconds}.{request_time.microseconds:06d}", "p": "-",
        }
