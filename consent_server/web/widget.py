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
        """The quoted ETag of one representation."""
        return f'"{self.etag}-gz"' if gzipped else f'"{self.etag}"'


def minify_css(css: str) -> str:
    """Comments and spacing out; nothing that changes a selector or a value."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"\s+", " ", css)
    css = re.sub(r"\s*([{};,])\s*", r"\1", css)
    css = re.sub(r":\s+", ":", css)
    return css.replace(";}", "}").strip()


WORD = re.compile(r"[\w$]")
REGEX_AFTER = set("(,=:[!&|?{};")


def strip_js(js: str) -> str:
    """Comments and whitespace out, strings and regex literals kept as written.

    Enough for widget/consent.js, which keeps to its rules: semicolons everywhere (no reliance
    on automatic insertion), no template literal spanning lines, a regex literal only after one
    of ( , = : [ ! & | ? { } ;.
    """
    out: list[str] = []
    i, n = 0, len(js)
    pending_space = False

    def emit(text: str) -> None:
        nonlocal pending_space
        if text == "}" and out and out[-1] == ";":  # the source never ends a block on an empty ;
            out.pop()
        if pending_space and out and WORD.match(out[-1][-1]) and WORD.match(text[0]):
            out.append(" ")
        pending_space = False
        out.append(text)

    while i < n:
        c = js[i]
        if js.startswith("/*!", i):  # the licence line stays
            end = js.index("*/", i) + 2
            out.append(js[i:end] + "\n")
            i = end
        elif js.startswith("//", i):
            i = js.find("\n", i)
            i = n if i < 0 else i
        elif js.startswith("/*", i):
            i = js.index("*/", i) + 2
            pending_space = True
        elif c.isspace():
            pending_space = True
            i += 1
        elif c in "'\"`":
            j = i + 1
            while js[j] != c:
                j += 2 if js[j] == "\\" else 1
            emit(js[i:j + 1])
            i = j + 1
        elif c == "/" and (not out or out[-1][-1] in REGEX_AFTER):
            j, in_class = i + 1, False
            while in_class or js[j] != "/":
                if js[j] == "\\":
                    j += 1
                elif js[j] in "[]":
                    in_class = js[j] == "["
                j += 1
            j += 1
            while j < n and js[j].isalpha():  # flags
                j += 1
            emit(js[i:j])
            i = j
        else:
            j = i + 1
            if WORD.match(c):
                while j < n and WORD.match(js[j]):
                    j += 1
            emit(js[i:j])
            i = j
    return "".join(out) + "\n"


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
                  hashlib.sha256(raw).hexdigest()[:32])


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
