"""flask-smorest blueprints, one per audience."""
import json
from urllib.parse import urlsplit

import flask
import flask_smorest
from flask import current_app, request
from flask_smorest import abort
from marshmallow import Schema, missing
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge

from ..text import MESSAGE, bad_text

BAD_JSON = "The request body is not valid JSON in UTF-8."


class Parser(FlaskParser):
    """webargs' parser, reading JSON bodies itself (load_json is its public hook for that).

    A JSON body sent as text/plain counts too: browsers send that without a CORS preflight.
    """

    def load_json(self, req: flask.Request, schema: Schema):
        if not (core.is_json(req.mimetype) or req.mimetype == "text/plain"):
            return missing
        body = read_body(req)
        if not body:
            return missing
        return load_json_text(body)


def load_json_text(body: bytes):
    """A JSON body's value; 400 when it is not JSON in UTF-8, or any of its strings holds a
    NUL or a lone surrogate (valid JSON escapes, but no text a database stores, S-04)."""
    try:
        value = json.loads(body.decode("utf-8"))
        # Only a \u escape can make either (a raw NUL is no JSON): most bodies skip the walk.
        bad = b"\\u" in body and bad_text(value)
    except (ValueError, RecursionError):  # also bad UTF-8, and integers of 4,300+ digits
        abort(400, message=BAD_JSON)
    if bad:
        abort(400, message=f"{BAD_JSON} {MESSAGE}")
    return value


def read_body(req: flask.Request) -> bytes:
    """The body, or 413 when it is over the request's cap, however it was sent.

    Werkzeug caps a body without Content-Length (Transfer-Encoding: chunked) by reading up to
    the cap and stopping there: a body exactly that long may have been cut, so it is refused.
    """
    body = req.get_data(cache=True)
    cap = req.max_content_length
    if req.content_length is None and cap is not None and len(body) >= cap:
        raise RequestEntityTooLarge()
    return body


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


def guard_public_writes():
    """Before a public blueprint's requests: cap bodies at 16 KiB; refuse writes from a browser
    page of a site not allowed.

    Allowed are the server's own pages (CONSENT_PUBLIC_URL) and CONSENT_ALLOWED_ORIGINS, never
    whatever the request's Host says: a client chooses its Host as freely as its Origin.
    """
    request.max_content_length = current_app.config["PUBLIC_MAX_BODY"]
    origin = request.headers.get("Origin")
    if (request.method in ("POST", "DELETE") and origin is not None
            and origin.rstrip("/") not in allowed_write_origins(current_app.config)):
        abort(403, message="This origin is not allowed to record consents here.")


def allowed_write_origins(cfg) -> set[str]:
    """The origins whose pages may write: the public URL's and CONSENT_ALLOWED_ORIGINS."""
    public = urlsplit(cfg["PUBLIC_URL"])
    return {f"{public.scheme}://{public.netloc}", *cfg["ALLOWED_ORIGINS"]}
