"""Security headers on every response (S-05), without breaking the banner on customer sites."""
import re

import pytest

from consent_server.http.headers import OTHER_CSP

BASE = {"X-Content-Type-Options": ("nosniff",),
        # people's pages, whose links carry a token, send none at all; the console same-origin
        "Referrer-Policy": ("strict-origin-when-cross-origin", "no-referrer", "same-origin")}


def _get_routes(app):
    """Every GET route of the app that takes no argument, and one of each with arguments."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: {"lang": "en", "name": "analytics",
                                                            "filename": "x"}.get(m.group(1), "x"),
                      rule.rule)
        paths.append(path)
    return paths


def test_every_response_carries_the_base_headers(app, client, choice):
    """REQ S-05: nosniff, a Referrer-Policy and a CSP on every response: pages, API, script,
    errors, whatever the route (all of the URL map's GET routes)."""
    paths = _get_routes(app) + ["/no/such/page", "/api/v1/consents/unknown"]
    assert len(paths) > 8
    for path in paths:
        resp = client.get(path)
        for name, value in BASE.items():
            assert resp.headers.get(name) in value, (path, name)
        assert "frame-ancestors" in resp.headers["Content-Security-Policy"], path
        assert "Strict-Transport-Security" not in resp.headers  # PUBLIC_URL is http here
    post = client.post("/api/v1/consents", json=choice)
    assert post.status_code == 201 and post.headers["X-Content-Type-Options"] == "nosniff"
    assert post.headers["Content-Security-Policy"] == OTHER_CSP


def test_our_pages_have_a_strict_csp_that_their_own_style_and_script_match(client):
    """REQ S-05: the notice page's CSP allows no inline script or style but its nonce'd ones,
    and it may not be framed."""
    for path in ("/privacy", "/privacy/en"):
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", csp).group(1)
        html = resp.get_data(as_text=True)
        assert html.count(f'nonce="{nonce}"') == 2  # its <style> and the banner's <script>
        assert "<style>" not in html and "<script>" not in html
        assert resp.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    one, two = (client.get("/privacy").headers["Content-Security-Policy"] for _ in range(2))
    assert one != two  # a fresh nonce per response


def test_the_demo_keeps_its_own_policy(client):
    """The demo page sets its own CSP with its own nonce: the hook does not replace it."""
    resp = client.get("/demo?lang=en")
    csp = resp.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'nonce="{nonce}"' in resp.get_data(as_text=True)
    assert "frame-ancestors 'self'" in client.get("/demo/embed").headers["Content-Security-Policy"]


def test_nothing_keeps_widget_js_or_the_api_from_customer_sites(client, choice):
    """The script and the API stay usable from another origin: no cross-origin resource or
    embedder policy, CORS for the allowed site as before."""
    script = client.get("/widget.js")
    api = client.post("/api/v1/consents", json=choice, headers={"Origin": "https://shop.example"})
    config = client.get("/api/v1/config", headers={"Origin": "https://shop.example"})
    for resp in (script, api, config):
        assert resp.status_code in (200, 201)
        for name in ("Cross-Origin-Resource-Policy", "Cross-Origin-Embedder-Policy",
                     "X-Frame-Options", "Cross-Origin-Opener-Policy"):  # or the permissive kind
            assert name not in resp.headers or resp.headers[name] == "cross-origin"
    assert api.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert config.headers["Access-Control-Allow-Origin"] == "https://shop.example"


@pytest.mark.parametrize("public_url, hsts", [("https://consent.example", True),
                                              ("http://127.0.0.1:5000", False)])
def test_hsts_when_the_public_url_is_https(app, app_factory, public_url, hsts):
    """REQ S-05: HSTS on every response when CONSENT_PUBLIC_URL is https, never otherwise."""
    client = app_factory(PUBLIC_URL=public_url).test_client()
    for path in ("/healthz", "/privacy", "/widget.js", "/api/v1/config"):
        value = client.get(path).headers.get("Strict-Transport-Security")
        assert (value == "max-age=31536000") if hsts else value is None


def test_x_forwarded_for_is_trusted_only_when_configured(app, app_factory, choice):
    """REQ S-05: without CONSENT_TRUSTED_PROXIES a forged X-Forwarded-For names nobody; with
    one proxy, its address is the client's (and so the rate limit's key)."""
    forged = {"X-Forwarded-For": "203.0.113.9"}
    plain = app_factory(RATELIMIT_PUBLIC="1/minute").test_client()
    assert plain.post("/api/v1/consents", json=choice, headers=forged).status_code == 201
    assert plain.post("/api/v1/consents", json=choice,
                      headers={"X-Forwarded-For": "203.0.113.10"}).status_code == 429
    proxied = app_factory(RATELIMIT_PUBLIC="1/minute", TRUSTED_PROXIES=1).test_client()
    for n in range(3):
        resp = proxied.post("/api/v1/consents", json=choice,
                            headers={"X-Forwarded-For": f"203.0.113.{20 + n}"})
        assert resp.status_code == 201
