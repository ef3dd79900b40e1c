"""GET /widget.js (size budget, caching, compression) and the /demo shop, without a browser."""
import gzip
import re
import shutil
import subprocess

import pytest

from conftest import publish

from consent_server.web import widget

SOURCE = (widget.SOURCE / "consent.js").read_text(encoding="utf-8")


def test_js_and_css_together_fit_the_gzip_budget(client):
    """REQ W-12: widget.js as served (JS and CSS in one file) is at most 5 KB gzipped."""
    raw = client.get("/widget.js", headers={"Accept-Encoding": "identity"}).data
    assert b".csw{" in raw  # the stylesheet is inside
    size = len(gzip.compress(raw, 9))
    assert size <= widget.BUDGET_GZIP == 5120, f"widget.js is {size} bytes gzipped"


def test_served_as_cacheable_javascript(client):
    resp = client.get("/widget.js")
    assert resp.status_code == 200
    assert resp.mimetype == "application/javascript"
    assert "public" in resp.headers["Cache-Control"] and "max-age=" in resp.headers["Cache-Control"]
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(r'"[0-9a-f]{32}"', resp.headers["ETag"])  # strong, from the content
    assert "Content-Encoding" not in resp.headers


def test_gzip_when_the_client_accepts_it(client):
    plain = client.get("/widget.js")
    zipped = client.get("/widget.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 2
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # one tag per representation


def test_etag_revalidation_answers_304(client):
    first = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    again = client.get("/widget.js", headers={"Accept-Encoding": "gzip",
                                              "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    stale = client.get("/widget.js", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_lang_query_serves_the_same_script(client):
    """The script reads ?lang= from its own src; the file (and its ETag) is the same."""
    assert client.get("/widget.js?lang=nb").headers["ETag"] == client.get("/widget.js").headers["ETag"]


def test_built_once_per_app(app):
    with app.app_context():
        assert widget.bundle(app) is widget.bundle(app)


def test_a_material_notice_version_rebuilds_the_script(app, client, monkeypatch):
    """REQ C-09: the script carries the valid notice versions, so a returning visitor's choice
    under an outdated one is not applied; a material version changes the script and its ETag."""
    first = client.get("/widget.js")
    assert '"v":["1"]' in first.get_data(as_text=True)
    publish(app, material=True, force=True)
    monkeypatch.setattr(widget, "VERSIONS_TTL", 0)
    again = client.get("/widget.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and '"v":["2"]' in again.get_data(as_text=True)
    assert again.headers["ETag"] != first.headers["ETag"]


def test_server_settings_are_filled_in(client, app):
    """REQ W-08: the Consent Mode map and the cookie settings come from the server."""
    js = client.get("/widget.js").get_data(as_text=True)
    assert "/*SERVER*/" not in js and "/*CSS*/" not in js
    assert '"c":"consent","d":365' in js
    assert '"marketing":["ad_storage","ad_user_data","ad_personalization"]' in js


def test_source_keeps_the_widget_rules():
    """REQ W-12, W-13: no eval or string code, no HTML parsing of text, one global, and no
    Norwegian words of its own (texts come from the server's catalog)."""
    for banned in ("eval(", "new Function", "innerHTML", "insertAdjacentHTML", "document.write",
                   "setTimeout('", 'setTimeout("'):
        assert banned not in SOURCE, banned
    # window.dataLayer is Google Consent Mode's own, made only if the page has none.
    assert sorted(re.findall(r"\bw\.(\w+)\s*=", SOURCE)) == ["ConsentServer", "dataLayer"]
    for word in ("Godta", "Avvis", "Innstillinger", "samtykke", "Accept all", "Reject all"):
        assert word not in SOURCE


def test_minifier_keeps_strings_and_regexes():
    js = "const a = 'x  // y'; // gone\nconst r = /[ /]+/g; /* gone */ const b = a / 2;\n"
    assert widget.strip_js(js) == "const a='x  // y';const r=/[ /]+/g;const b=a/2;\n"
    js = "f((x) => /a/.test(x), (a, b) => a + +b, (s) => { return /b/; }, c > /d/.e);"
    assert widget.strip_js(js) == ("f(x=>/a/.test(x),(a,b)=>a+ +b,s=>{return/b/},c>/d/.e);\n")


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed to parse the bundle")
def test_the_served_bundle_is_valid_javascript(client, tmp_path):
    """The hand-written minifier's output parses (node --check)."""
    path = tmp_path / "widget.js"
    path.write_bytes(client.get("/widget.js").data)
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_demo_page_embeds_the_banner_like_a_customer(client):
    """The demo: one async script tag, held-back scripts and iframe, a strict CSP."""
    resp = client.get("/demo?lang=en")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<script src="/widget.js" async></script>' in html
    assert html.count('type="text/plain" data-consent=') == 3
    assert 'iframe data-consent="marketing" data-src=' in html
    csp = resp.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'nonce="{nonce}"' in html
    assert client.get("/demo/analytics.js").mimetype == "application/javascript"
    assert client.get("/demo/embed").status_code == 200
    assert client.get("/demo/panel.js").status_code == 200


def test_demo_page_speaks_the_visitors_language(client):
    assert '<html lang="nb">' in client.get("/demo?lang=nb").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/demo?lang=en").get_data(as_text=True)
