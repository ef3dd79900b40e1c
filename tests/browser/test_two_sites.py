"""Two sites of one controller in headless Chromium: the consent server under pytest-flask's
live_server (http://127.0.0.1:<port>) serves a shop and a blog, each a small page on a loopback
port of its own (two origins) that embeds the banner with the same plain script tag. Each page
gets its own site's banner and declaration, and each consent is recorded with its site."""
import threading
import urllib.parse

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from consent_server import ledger
from consent_server.extensions import db

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover (the tests here skip, see fixtures_browser)
    expect = None

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>Content.</p>
<script src="{server}/widget.js{query}" async{attrs}></script>
</body></html>
"""
BANNER, DIALOG = ".csw-b", "dialog.csw-d"


class Page:
    """One site's page, on a loopback port of its own: an origin of its own."""

    def __init__(self, title):
        self.title, self.server_url = title, None
        self.httpd = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.origin = f"http://localhost:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wsgi(self, environ, start_response):
        # ?site=: a tag that sends no Referer, naming its site on its URL instead (or not).
        site = Request(environ).args.get("site")
        query = f"?site={site}" if site else ""
        attrs = "" if site is None else ' referrerpolicy="no-referrer"'
        html = PAGE.format(title=self.title, server=self.server_url, attrs=attrs, query=query)
        return Response(html, content_type="text/html; charset=utf-8")(environ, start_response)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def pages():
    shop, blog = Page("Shop"), Page("Blog")
    yield shop, blog
    shop.close()
    blog.close()


@pytest.fixture
def app_settings(live_settings, pages, two_sites_file):
    """The live app serves the two sites, each page's origin one site's."""
    shop, blog = pages
    path = two_sites_file(shop=shop.origin, blog=blog.origin)
    return {**live_settings, "SITE_FILE": str(path), "ALLOWED_ORIGINS": ""}


@pytest.fixture
def server(app, live_server, pages, publish_sites):
    """Both sites' notices published; the pages' script tags point at the live server."""
    for page in pages:
        page.server_url = app.config["PUBLIC_URL"]
    return app, publish_sites(app)


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    yield ctx
    ctx.close()


def test_two_sites_on_two_origins_each_get_their_banner_and_record_their_site(
        context, pages, server, events_of_site):
    """REQ N-09, C-03, C-07: the same script tag on two origins shows each site's name and
    cookie declaration, and each consent is recorded with the site it was given on, under
    that site's notice version."""
    app, versions = server
    shop, blog = pages
    expected = {shop: ("default", "Eksempel nettbutikk (Eksempel AS) uses cookies", "_ga",
                       "_blog_stats"),
                blog: ("blog", "Eksempelbloggen (Eksempel AS) uses cookies", "_blog_stats",
                       "_ga")}
    for host, (site, says, declared, not_declared) in expected.items():
        page = context.new_page()
        page.goto(host.origin + "/")
        banner = page.locator(BANNER)
        expect(banner).to_contain_text(says)
        page.locator(".csw:not(.csw-ph)").get_by_role("button", name="Settings",
                                                        exact=True).click()
        dialog = page.get_by_role("dialog", name="Settings")
        expect(dialog.get_by_text(declared, exact=True).first).to_be_visible()
        expect(dialog.get_by_text(not_declared, exact=True)).to_have_count(0)
        dialog.get_by_role("switch", name="Statistics").check()
        page.locator(DIALOG).get_by_role("button", name="Save settings", exact=True).click()
        page.wait_for_function(
            "() => decodeURIComponent(document.cookie).includes('\"id\":\"')"
            " && !localStorage.getItem('consent-server:pending')")
        cookie = next(c for c in context.cookies(host.origin) if c["name"] == "consent")
        consent_id = urllib.parse.unquote(cookie["value"]).split('"id":"')[1].split('"')[0]
        [event] = events_of_site(app, site)
        assert event.subject == consent_id and event.policy_version == versions[site]
        assert '"analytics":true' in event.choices
        page.close()
    with app.app_context():
        assert ledger.verify(db.session).ok


def test_a_tag_that_sends_no_referrer_names_its_site_on_its_url(context, pages, server,
                                                                events_of_site):
    """REQ N-09: widget.js fetched without a Referer is the default site's; `?site=` on the
    tag's URL gives the page its own site's banner, and the consent is recorded for it (by
    the POST's Origin); without it the blog's page gets no banner (its origin is not the
    default site's)."""
    app, versions = server
    _shop, blog = pages
    page = context.new_page()
    page.goto(blog.origin + "/?site=blog")
    expect(page.locator(BANNER)).to_contain_text("Eksempelbloggen (Eksempel AS) uses cookies")
    page.locator(".csw:not(.csw-ph)").get_by_role("button", name="Accept all",
                                                    exact=True).click()
    page.wait_for_function("() => !localStorage.getItem('consent-server:pending')"
                           " && decodeURIComponent(document.cookie).includes('\"id\":\"')")
    [event] = events_of_site(app, "blog")
    assert event.policy_version == versions["blog"] and event.source == "banner"
    page.close()
    warnings = []
    page = context.new_page()
    page.on("console", lambda message: warnings.append(message.text))
    page.goto(blog.origin + "/?site=")  # nothing names the blog: no Referer, no ?site=
    page.wait_for_function("() => window.ConsentServer !== undefined")
    page.wait_for_timeout(300)
    assert page.locator(BANNER).count() == 0
    assert any("no banner here" in text for text in warnings)
