"""The development server's request lines without ids or tokens (S-06): werkzeug logs the
path (`/subscriptions/me/<a person's token>`); this filter puts the route's rule in its place,
as the production access log does (http/logs.py), and drops the query string."""
import logging
import re
from urllib.parse import unquote, urlsplit

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

# werkzeug's request line: `GET /path?query HTTP/1.1`, perhaps inside ANSI colour codes.
REQUEST_LINE = re.compile(r"(?P<method>[A-Z]+) (?P<target>/\S*) (?P<protocol>HTTP/[\d.]+)")


class RouteRules(logging.Filter):
    """Replaces the path in werkzeug's request lines by the URL rule it matched ("-" if none)."""

    def __init__(self, url_map: Map):
        super().__init__()
        self.url_map = url_map

    def rule(self, method: str, target: str) -> str:
        try:
            rule, _ = self.url_map.bind("localhost").match(
                unquote(urlsplit(target).path), method, return_rule=True)
        except HTTPException:  # no route, another method, a redirect: say nothing of the path
            return "-"
        return rule.rule

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cut = REQUEST_LINE.sub(lambda m: f"{m['method']} {self.rule(m['method'], m['target'])} "
                                         f"{m['protocol']}", message)
        if cut != message:
            record.msg, record.args = cut, ()
        return True


def install(app: Flask) -> None:
    """Once per process: the rules are the same for every app the factory makes."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RouteRules) for f in logger.filters):
        logger.addFilter(RouteRules(app.url_map))
