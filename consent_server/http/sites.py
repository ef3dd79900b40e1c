"""Which of the controller's sites a request is for (consent/sites.py `Sites.pick`): the site it
names (?site=, a body's `site`), else its page's origin, else the default site.

The page's origin is the Origin header a browser sets on every cross-origin fetch and every
POST (a page's script cannot forge it), else the origin of the Referer (what a browser sends
for `<script src>`, whose request has no Origin). A write is checked against Origin alone.
"""
from urllib.parse import urlsplit

from flask import current_app, request


def page_origin(writing: bool = False) -> str | None:
    """scheme://host[:port] of the page that made the request, when the browser says it."""
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return origin
    if writing:
        return None
    referer = urlsplit(request.headers.get("Referer", ""))
    if referer.scheme in ("http", "https") and referer.hostname:
        return f"{referer.scheme}://{referer.netloc.rpartition('@')[2]}"
    return None


def of_request(named: str | None = None, writing: bool = False):
    """The Site a request is for; Invalid for an unknown id, Forbidden for a write from a page
    that is not one of the named site's (the server's own pages may name any)."""
    public = urlsplit(current_app.config["PUBLIC_URL"])
    own = {f"{public.scheme}://{public.netloc}"}
    return current_app.extensions["consent_sites"].pick(named, page_origin(writing), own,
                                                        strict=writing)
