"""GET /widget.js: the banner script (JS and CSS in one response), built once per app."""
import gzip
import hashlib
import json
import re
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, request

from .. import purposes
from ..config import ROOT

bp = Blueprint("widget", __name__)

SOURCE = ROOT / "widget"
JS_TYPE = "application/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"
BUDGET_GZIP = 5 * 1024  # REQ W-12; tests/test_widget.py holds the bundle to it


@dataclass(frozen=True)
class Bundle:
    """The served script, raw and gzipped (level 9), with one strong ETag per encoding."""

    raw: bytes
    gzipped: bytes
    etag: str

    def tag(self, gzipped: bool) -> str:
        return f"{self.etag}-gz" if gzipped else self.etag


def minify_css(css: str) -> str:
    """Comments and spacing out; nothing that changes a selector or a value."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"\s+", " ", css)
    css = re.sub(r"\s*([{};,])\s*", r"\1", css)
    css = re.sub(r":\s+", ":", css)
    return css.replace(";}", "}").strip()


def strip_js(js: str) -> str:
    """Full-line // comments, indentation and blank lines out (the source has no multi-line
    strings, so no line's leading space is content)."""
    lines = (line.strip() for line in js.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


def build(app: Flask) -> Bundle:
    """The script with the server's settings and the stylesheet filled in."""
    settings = {"c": app.config["COOKIE_NAME"], "d": int(app.config["MAX_AGE_DAYS"]),
                "m": {p.key: list(p.signals) for p in purposes.PURPOSES if p.signals}}
    css = minify_css((SOURCE / "consent.css").read_text(encoding="utf-8"))
    js = (SOURCE / "consent.js").read_text(encoding="utf-8")
    js = js.replace("{/*SERVER*/}", json.dumps(settings, separators=(",", ":")))
    js = js.replace("'/*CSS*/'", json.dumps(css))
    raw = strip_js(js).encode()
    return Bundle(raw, gzip.compress(raw, 9, mtime=0),
                  '"' + hashlib.sha256(raw).hexdigest()[:32] + '"')


def bundle(app: Flask) -> Bundle:
    """Built on first use, then kept for the life of the process."""
    if "consent_widget" not in app.extensions:
        app.extensions["consent_widget"] = build(app)
    return app.extensions["consent_widget"]


@bp.get("/widget.js")
def script():
    """The banner script: JS and CSS in one file, gzip when accepted, ETag for revalidation."""
    served = bundle(current_app._get_current_object())
    zipped = "gzip" in request.accept_encodings
    etag = served.tag(zipped)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff",
               # Any site may load it, also one that sets Cross-Origin-Embedder-Policy.
               "Cross-Origin-Resource-Policy": "cross-origin"}
    if request.if_none_match.contains_weak(etag.strip('"')):
        return current_app.response_class(status=304, headers=headers)
    body = served.gzipped if zipped else served.raw
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return current_app.response_class(body, headers=headers, content_type=JS_TYPE)
