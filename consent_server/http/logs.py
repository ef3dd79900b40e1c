"""Logs without personal data (S-06): addresses cut to their network part, no user agent,
referrer, query string or id in a path, in the development server's log and in gunicorn's;
no control character from a request (a forged line) in any of them. CONSENT_LOG_FORMAT=json
writes every record as one JSON object (JsonLines)."""
import json
import logging
import os
import re
from datetime import UTC, datetime

from flask import has_request_context, request
from flask.logging import default_handler
from gunicorn.glogging import Logger as GunicornBaseLogger

from .network import truncate_ip

# Anything that may be an IPv4 or IPv6 address inside a message (truncate_ip checks it).
ADDRESS = re.compile(r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)"
                     r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}"
                     r"(?![\w:]|\.\d))")
ROUTE = "consent.route"  # the environ key the app leaves the matched URL rule in
# C0 and C1 controls, DEL and the Unicode line separators: what could end a log line early.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Messages of Flask and gunicorn that name a request's path (its ids, its tokens).
FLASK_EXCEPTION = "Exception on "
GUNICORN_ERROR = "Error handling request"
# gunicorn quotes the request line it could not parse: it may hold a path with a token.
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
FORMATS = ("text", "json")  # CONSENT_LOG_FORMAT
TEXT = default_handler.formatter  # Flask's own, kept to put back after JSON
ACCESS = "consent_access"  # the record attribute holding an access line's fields


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


def escape_controls(text: str) -> str:
    """text on one line: every control character written as its escape (\\n, \\x00 ...)."""
    return CONTROL.sub(lambda m: NAMED.get(m.group()) or (
        f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"),
        text)


def current_rule() -> str:
    """The URL rule of the request being handled (`/subscriptions/me/<token>`), or "-"."""
    if has_request_context() and request.url_rule is not None:
        return request.url_rule.rule
    return "-"


class SafeLines(logging.Filter):
    """A filter that makes every record one line of its own with no path in it (S-06):

    - Flask's `Exception on <path> [METHOD]` names the route's rule instead of the path;
    - gunicorn's `Error handling request <uri>` and the request line it quotes when it could
      not parse one keep neither;
    - control characters in the message are escaped, and every line of a traceback is
      indented, so nothing a client sends can start a line that looks like a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "consent_safe", False):
            return True
        message = record.getMessage()
        if message.startswith(FLASK_EXCEPTION):
            method = request.method if has_request_context() else "-"
            message = f"{FLASK_EXCEPTION}{current_rule()} [{method}]"
        elif message.startswith(GUNICORN_ERROR):
            message = GUNICORN_ERROR
        elif message.startswith("Invalid request from ip="):
            message = QUOTED.sub("'(withheld)'", message)
        record.msg, record.args = escape_controls(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = "\n".join("    " + escape_controls(line)
                                        for line in record.exc_text.splitlines())
        record.consent_safe = True
        return True


class JsonLines(logging.Formatter):
    """Each record as one JSON object on one line (CONSENT_LOG_FORMAT=json): its time (UTC),
    level, logger and message, an access line's fields (client network, method, route rule,
    status, bytes, ms) and the traceback. ASCII only, so no character ends a line early.

    It formats what the filters above left: nothing personal reaches it either.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(
                     timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage(), **getattr(record, ACCESS, {})}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


def log_format(value: str | None) -> str:
    """CONSENT_LOG_FORMAT checked: "text" (the default) or "json"."""
    value = (value or "text").strip().lower()
    if value not in FORMATS:
        raise RuntimeError(f"CONSENT_LOG_FORMAT must be one of {', '.join(FORMATS)}, "
                           f"not {value!r}")
    return value


def formatter(kind: str) -> logging.Formatter:
    return JsonLines() if kind == "json" else TEXT


def _add_once(target, kind, make) -> None:
    if not any(isinstance(f, kind) for f in target.filters):
        target.addFilter(make())


def install(app_logger: logging.Logger | None = None, kind: str = "text") -> None:
    """Once per process, however many apps are made: on werkzeug's logger, the app's logger
    (Flask's exception line) and Flask's default handler (what the app's modules log), written
    as kind says (the last app made decides, as the handlers are the process's)."""
    logger = logging.getLogger("werkzeug")
    _add_once(logger, TruncatedAddresses, TruncatedAddresses)
    for target in (logger, default_handler, *([app_logger] if app_logger else [])):
        _add_once(target, SafeLines, SafeLines)
    default_handler.setFormatter(formatter(kind))
    # werkzeug adds a handler of its own to a logger that has none; in JSON, ours comes first.
    ours = [h for h in logger.handlers if isinstance(h.formatter, JsonLines)]
    if kind == "json" and not ours:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
    elif kind != "json":
        for handler in ours:
            logger.removeHandler(handler)


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
        kind = log_format(os.environ.get("CONSENT_LOG_FORMAT"))
        for log, level in ((self.error_log, logging.WARNING), (self.access_log, logging.NOTSET)):
            _add_once(log, TruncatedAddresses, lambda level=level: TruncatedAddresses(level))
            for handler in log.handlers:
                _add_once(handler, SafeLines, SafeLines)
                if kind == "json":
                    handler.setFormatter(JsonLines())

    def access(self, resp, req, environ, request_time):
        """gunicorn's access line, with its fields kept for JsonLines."""
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {"client": atoms["h"], "method": atoms["m"], "route": atoms["U"],
                  "status": int(atoms["s"]), "bytes": atoms["B"], "ms": atoms["M"]}
        self.access_log.info(self.cfg.access_log_format, self.atoms_wrapper_class(atoms),
                             extra={ACCESS: fields})

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
