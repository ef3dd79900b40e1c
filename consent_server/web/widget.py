"""GET /widget.js: the banner script (JS and CSS in one response), built once per app."""
import gzip
import hashlib
import json
import re
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, request

from .. import policy, purposes
from ..extensions import db
from ..config import resource

bp = Blueprint("widget", __name__)

SOURCE = resource("widget")
JS_TYPE = "application/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"
BUDGET_GZIP = 5 * 1024  # REQ W-12; tests/test_widget.py holds the bundle to it
VERSIONS_TTL = 30  # seconds; the config and this script are cached by browsers for longer


@dataclass(frozen=True)
class Bundle:
    """The served script, raw and gzipped (level 9), with one strong ETag per encoding."""

    versions: tuple[str, ...]
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
    css = re.sub(r":\s+", ":", css).replace(" !important", "!important")
    return css.replace(";}", "}").strip()


WORD = re.compile(r"[\w$]")
REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^")  # after an operator, a / opens a regex literal
REGEX_AFTER_WORDS = {"return", "typeof", "case", "in", "of", "delete", "void", "throw", "new"}


def strip_js(js: str) -> str:
    """Comments and whitespace out, strings and regex literals kept as written.

    Enough for widget/consent.js, which keeps to its rules: semicolons everywhere (no reliance
    on automatic insertion), no template literal spanning lines, no `++`/`--` beside a space.
    """
    out: list[str] = []
    i, n = 0, len(js)
    pending_space = False

    def emit(text: str) -> None:
        nonlocal pending_space
        if text == "}" and out and out[-1] == ";":  # the source never ends a block on an empty ;
            out.pop()
        if text == "=>" and len(out) > 2 and out[-3] == "(" and out[-1] == ")" \
                and WORD.match(out[-2]):  # (x) => ... is x => ...
            out[-3:] = [out[-2]]
        if pending_space and out and (WORD.match(out[-1][-1]) and WORD.match(text[0])
                                      or out[-1][-1] in "+-" and text[0] in "+-"):  # a + +b
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
        elif c == "/" and (not out or out[-1][-1] in REGEX_AFTER or out[-1] in REGEX_AFTER_WORDS):
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
            elif js.startswith("=>", i):
                j = i + 2
            emit(js[i:j])
            i = j
    return "".join(out) + "\n"


def build(app: Flask, versions: tuple[str, ...]) -> Bundle:
    """The script with the server's settings and the stylesheet filled in.

    The valid notice versions go in too, so that a returning visitor's stored choice is checked
    before it is applied, without waiting for the config (C-09).
    """
    settings = {"c": app.config["COOKIE_NAME"], "d": int(app.config["MAX_AGE_DAYS"]),
                "m": {p.key: list(p.signals) for p in purposes.PURPOSES if p.signals},
                "v": list(versions)}
    css = minify_css((SOURCE / "consent.css").read_text(encoding="utf-8"))
    js = (SOURCE / "consent.js").read_text(encoding="utf-8")
    js = js.replace("{/*SERVER*/}", json.dumps(settings, separators=(",", ":")))
    js = js.replace("'/*CSS*/'", json.dumps(css))
    raw = strip_js(js).encode()
    return Bundle(versions, raw, gzip.compress(raw, 9, mtime=0),
                  hashlib.sha256(raw).hexdigest()[:32])


def bundle(app: Flask) -> Bundle:
    """Built on first use and kept; built again when the valid notice versions change (looked
    up at most every VERSIONS_TTL seconds, as `flask consent publish-policy` runs elsewhere)."""
    checked, built = app.extensions.get("consent_widget", (None, None))
    now = time.monotonic()
    if built is None or now - checked >= VERSIONS_TTL:
        versions = tuple(policy.valid_versions(db.session))
        if built is None or built.versions != versions:
            built = build(app, versions)
        app.extensions["consent_widget"] = (now, built)
    return built


@bp.get("/widget.js")
def script():
    """The banner script: JS and CSS in one file, gzip when accepted, ETag for revalidation."""
    served = bundle(current_app._get_current_object())
    zipped = request.accept_encodings["gzip"] > 0
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
