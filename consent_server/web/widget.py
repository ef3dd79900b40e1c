"""GET /widget.js: the banner, with the config of its first layer; GET /widget-settings.js:
its settings layer, with the full config.

The scripts are built from widget/src/ by esbuild and terser (widget/build.mjs) into
widget/dist/, which is committed: the server only reads them. It puts the first layer's config
before the banner as `{const CONSENT_SETTINGS=<json>;` (the built file closes the block), so
the banner shows after one request, in one language per response (W-12), and V8's compile hint
before that; and the full config before the settings layer as `const CONSENT_CONFIG=<json>;`,
so that the layer comes in one request too.
"""
import gzip
import hashlib
import json
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, request
from flask_babel import force_locale

from ..config import resource
from ..consent import banner, notices
from ..extensions import db
from ..http import sites
from ..http.i18n import normalise

bp = Blueprint("widget", __name__)

DIST = resource("widget") / "dist"
JS_TYPE = "application/javascript; charset=utf-8"
# Both files carry the valid notice versions (C-09, N-04), so browsers and caches keep them
# briefly and then revalidate them by their ETag (a 304 without a body while nothing changed); no
# stale-while-revalidate, which would apply a stale copy once more.
CACHE_CONTROL = f"public, max-age={banner.FRESH_SECONDS}"
BUDGET_GZIP = 5 * 1024  # REQ W-12; tests/test_widget.py holds widget.js to it
# Seconds between two looks at the valid notice versions (`flask consent publish-policy` runs in
# another process). With the browser's FRESH_SECONDS, the bound the README states: a returning
# visitor's first page more than VERSIONS_TTL + FRESH_SECONDS (20 s) after a material
# publication asks again.
VERSIONS_TTL = 10


@dataclass(frozen=True)
class Bundle:
    """One served script, raw and gzipped (level 9), with one strong ETag per encoding."""

    versions: tuple[str, ...]
    raw: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, raw: bytes, versions: tuple[str, ...] = ()) -> "Bundle":
        return cls(versions, raw, gzip.compress(raw, 9, mtime=0),
                   hashlib.sha256(raw).hexdigest()[:32])

    def tag(self, gzipped: bool) -> str:
        """The quoted ETag of one representation."""
        return f'"{self.etag}-gz"' if gzipped else f'"{self.etag}"'


def built(name: str) -> bytes:
    """A file of widget/dist/ as committed (see widget/build.mjs)."""
    return (DIST / name).read_bytes()


# V8's explicit compile hint (Chromium 136 on; a comment to other engines): nearly every
# function of the banner runs as it starts, so V8 compiles them all while the script streams
# in, off the page's main thread, instead of one by one on it at their first call. V8 reads
# the comment only before the first token, so it comes before the prefix.
COMPILE_HINT = "//# allFunctionsCalledOnLoad\n"


def declaration(name: str, value: dict) -> bytes:
    """`const NAME=<json>;`: JSON is JavaScript, and `<` escaped keeps a text from closing a
    script element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return f"const {name}={text};".encode()


def build(app: Flask, site, lang: str, versions: tuple[str, ...], settings: bool) -> Bundle:
    """A site's banner in one language, its first layer's config before it, or its settings
    layer, the full config before it. The valid notice versions go in too, so that a stored
    choice is checked before it is applied (C-09)."""
    with force_locale(lang):
        full = banner.config(db.session, site, app.config, lang)
    if settings:
        return Bundle.of(declaration("CONSENT_CONFIG", full) + built("settings.min.js"), versions)
    first = declaration("CONSENT_SETTINGS", banner.first_layer(full, site, app.config))
    return Bundle.of(COMPILE_HINT.encode() + b"{" + first + built("consent.min.js"), versions)


def bundle(app: Flask, lang: str, site=None, settings: bool = False) -> Bundle:
    """Built on first use per site, language and file and kept; built again when the valid
    notice versions change (looked up at most every VERSIONS_TTL seconds, as `flask consent
    publish-policy` runs elsewhere)."""
    site = site or app.extensions["consent_site"]
    checked, versions, bundles = app.extensions.get("consent_widget", (None, None, {}))
    now = time.monotonic()
    if checked is None or now - checked >= VERSIONS_TTL:
        latest = tuple(notices.valid_versions(db.session))
        if latest != versions:
            versions, bundles = latest, {}
        checked = now
    key = (site.id, lang, settings)
    if key not in bundles:
        bundles = {**bundles, key: build(app, site, lang, versions, settings)}
    app.extensions["consent_widget"] = (checked, versions, bundles)
    return bundles[key]


def serve(served: Bundle, headers: dict):
    """A script: gzip when accepted, ETag for revalidation."""
    zipped = request.accept_encodings["gzip"] > 0
    etag = served.tag(zipped)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff",
               # Any site may load it, also one that sets Cross-Origin-Embedder-Policy.
               "Cross-Origin-Resource-Policy": "cross-origin", **headers}
    if request.if_none_match.contains_weak(etag.strip('"')):
        return current_app.response_class(status=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return current_app.response_class(served.gzipped if zipped else served.raw,
                                      headers=headers, content_type=JS_TYPE)


def language_and_site(vary: str):
    """A script's language and site, and its Vary header: the language of ?lang= (the script
    tag's), else the browser's (Accept-Language); the site of ?site= (the script tag's), else
    of the embedding page (its Origin, else its Referer), else the default."""
    app = current_app._get_current_object()
    lang = normalise(request.args.get("lang"))
    if lang is None:
        vary += ", Accept-Language"
        lang = next((found for tag, _q in request.accept_languages
                     if (found := normalise(tag))), app.config["DEFAULT_LANGUAGE"])
    named = request.args.get("site")
    if not named and len(app.extensions["consent_sites"]) > 1:
        # The site is the embedding page's: a shared cache keeps them apart.
        vary += ", Origin, Referer"
    return lang, sites.of_request(named), vary


@bp.get("/widget.js")
def script():
    """The banner: JS, CSS and its first layer's texts in one file."""
    lang, site, vary = language_and_site("Accept-Encoding")
    return serve(bundle(current_app._get_current_object(), lang, site),
                 {"Vary": vary, "Content-Language": lang})


@bp.get("/widget-settings.js")
def settings_script():
    """The banner's settings layer, an ES module it imports in the language of its config, with
    the full config."""
    # A module script from another origin is fetched with CORS; it holds nothing private.
    lang, site, vary = language_and_site("Accept-Encoding")
    return serve(bundle(current_app._get_current_object(), lang, site, settings=True),
                 {"Vary": vary, "Content-Language": lang, "Access-Control-Allow-Origin": "*"})
