"""The banner (widget.js) in headless Chromium, on a host page of another origin.

The consent server runs under pytest-flask's live_server on http://127.0.0.1:<port>; the
"customer's site" runs on http://localhost:<other port>, a different origin, and embeds the
banner with one script tag.
"""
import json
import threading
import time
import urllib.parse
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover (the tests here skip, see conftest)
    expect = None

GPC = "Object.defineProperty(Navigator.prototype,'globalPrivacyControl',{get:()=>true})"
PENDING = "consent-server:pending"
BANNER, DIALOG = ".csw-b", "dialog.csw-d"
NECESSARY_SIGNALS = {"security_storage", "functionality_storage"}
ALL_SIGNALS = {"ad_storage", "analytics_storage", "ad_user_data", "ad_personalization",
               "functionality_storage", "personalization_storage", "security_storage"}

# ---- the customer's site (another origin) ------------------------------------------------------

HOST_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host shop</title>
{head}{gtag}
<style{nonce}>
  /* A careless site's global rules: the banner must not inherit them. */
  h2 {{ font-size: 44px; color: #c00; text-transform: uppercase; }}
  p {{ margin: 60px; }}
  button {{ background: #c00; color: #fff; font-size: 9px; padding: 0; border: 0; }}
  main p {{ min-height: 40px; }}
</style>
</head>
<body>
<header><h1>Host shop</h1></header>
<main>
  <p>Products.</p>
  <iframe data-consent="marketing" data-src="/frame.html" title="A video"></iframe>
  <p>More products.</p>
</main>
<footer><p><a href="#" data-consent-open id="settings-link">Cookie settings</a></p></footer>
<script{nonce}>window.order = [];</script>
<script type="text/plain" data-consent="analytics"
  data-src="/ext.js?n=a1&amp;cookie=_ga&amp;slow=1"></script>
<script type="text/plain" data-consent="analytics"{nonce}>order.push('a2');
  document.cookie = '_ga_XYZ=1; Path=/';</script>
<script type="text/plain" data-consent="marketing" data-src="/ext.js?n=m1&amp;cookie=_fbp"></script>
<script type="text/plain" data-consent="analytics marketing"{nonce}>order.push('am3');</script>
{body}
</body>
</html>
"""
GTAG = """<script{nonce}>window.dataLayer = window.dataLayer || [];
function gtag(){{dataLayer.push(arguments);}}
gtag('js', new Date()); gtag('config', 'G-TEST');</script>"""


# Microsoft Clarity's snippet defines this queue before its script loads.
CLARITY = """<script{nonce}>window.clarity = window.clarity || function () {{
(window.clarity.q = window.clarity.q || []).push([...arguments]); }};</script>"""


class HostSite:
    """The customer's site: one page with held-back scripts, an iframe and the banner's tag."""

    def __init__(self):
        self.server_url = None
        self.httpd = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.origin = f"http://localhost:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wsgi(self, environ, start_response):
        request = Request(environ)
        args = request.args
        if request.path == "/ext.js":
            if args.get("slow"):
                time.sleep(0.3)  # an external script slower than the inline one after it
            body = (f"order.push({json.dumps(args['n'])});"
                    f"document.cookie = '{args['cookie']}=1; Path=/';")
            return Response(body, content_type="text/javascript")(environ, start_response)
        if request.path == "/frame.html":
            return Response("<p>video</p>", content_type="text/html")(environ, start_response)
        csp = bool(args.get("csp"))
        nonce = ' nonce="n0nce"' if csp else ""
        attrs = "".join(f' {k[2:]}="{v}"' for k, v in args.items() if k.startswith("a-"))
        query = f"?lang={args['src_lang']}" if args.get("src_lang") else ""
        tag = f'<script src="{self.server_url}/widget.js{query}"{attrs}'
        in_head = args.get("head")
        head, body = ((tag + "></script>\n", "") if in_head else
                      ("", (tag + " async></script>") * (2 if args.get("twice") else 1)))
        html = HOST_PAGE.format(lang=args.get("lang", "en"), nonce=nonce, head=head, body=body,
                                gtag=(GTAG if args.get("gtag") else "").format(nonce=nonce) +
                                (CLARITY.format(nonce=nonce) if args.get("clarity") else ""),
                                server=self.server_url)
        response = Response(html, content_type="text/html; charset=utf-8")
        if csp:  # a strict policy: no inline script or style without the nonce, no eval
            response.headers["Content-Security-Policy"] = (
                f"default-src 'self'; script-src 'self' {self.server_url} 'nonce-n0nce'; "
                f"style-src 'self' 'nonce-n0nce'; connect-src {self.server_url}; "
                "frame-src 'self'; object-src 'none'; base-uri 'none'")
        return response(environ, start_response)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class ConsentServer:
    """The consent server as the tests see it: its address, and what it stored (read through
    the app's test client, on the same database)."""

    def __init__(self, url, app):
        self.url, self.app = url, app

    def consent(self, consent_id):
        return self.app.test_client().get(f"/api/v1/consents/{consent_id}").json

    def events(self, consent_id):
        return self.app.test_client().get(f"/api/v1/consents/{consent_id}/events").json["events"]


@pytest.fixture(scope="module")
def site():
    host = HostSite()
    yield host
    host.close()


@pytest.fixture
def app_settings(live_settings, site):
    """The app that live_server serves, with the host site's origin allowed."""
    return {**live_settings, "ALLOWED_ORIGINS": site.origin}


@pytest.fixture
def server(app, live_server, site):
    """The consent server: the app under pytest-flask's live_server (a process of its own, on
    the test database); the host site's script tag points at it."""
    site.server_url = app.config["PUBLIC_URL"]
    return ConsentServer(site.server_url, app)


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


def url(site, server, **params):
    return f"{site.origin}/?{urllib.parse.urlencode(params)}"


def load(page, site, server, **params):
    """Open the host page and wait for the banner's first layer."""
    page.goto(url(site, server, **params))
    page.wait_for_selector(BANNER)
    return page


def stored(page):
    """The consent cookie, once the server has answered (it then holds the consent id)."""
    page.wait_for_function(
        "() => document.cookie.includes('consent=') && decodeURIComponent(document.cookie)"
        ".includes('\"id\":\"') && !localStorage.getItem('consent-server:pending')")
    cookie = next(c for c in page.context.cookies() if c["name"] == "consent")
    return cookie, json.loads(urllib.parse.unquote(cookie["value"]))


def consent_commands(page):
    return page.evaluate("""() => (window.dataLayer || []).filter((e) => e && e[0] === 'consent')
        .map((e) => [e[1], e[2]])""")


def ran(page):
    return page.evaluate("window.order")


def button(page, name):
    """A button of the widget: in the settings dialog while it is open, else the banner's."""
    scope = DIALOG if page.locator(DIALOG).count() else ".csw:not(.csw-ph)"
    return page.locator(scope).get_by_role("button", name=name, exact=True)


# ---- tests --------------------------------------------------------------------------------------

def test_nothing_held_back_runs_before_a_choice(page, site, server):
    """REQ W-03, C-04, W-08: before a choice no held-back script or iframe runs, nothing optional
    is written, Consent Mode is denied by default; Escape and clicking elsewhere are not consent."""
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.add_init_script("""new MutationObserver((_, o) => {
        if (!document.querySelector('.csw-b')) return;
        window.bannerAt = performance.now();
        o.disconnect();
    }).observe(document, {childList: true, subtree: true});""")
    load(page, site, server)
    page.keyboard.press("Escape")
    page.mouse.click(5, 5)
    page.wait_for_timeout(400)  # give anything that would wrongly run the time to do it
    assert ran(page) == []
    assert page.context.cookies() == []
    assert page.evaluate("localStorage.length") == 0
    assert page.get_attribute("iframe[data-src]", "src") is None
    assert page.is_visible(BANNER)
    server_requests = [r for r in requests if r.startswith(server.url)]
    # REQ W-12: one round trip: the first layer's texts come with the script. The second file
    # (the settings layer, with the full config) follows only once the first layer is there.
    paths = [urllib.parse.urlsplit(r).path for r in server_requests]
    assert paths[0] == "/widget.js" and set(paths[1:]) <= {"/widget-settings.js"}
    assert page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => /widget-settings|config/.test(e.name))
        .every((e) => e.startTime >= window.bannerAt)""")
    [(command, signals)] = consent_commands(page)
    assert command == "default" and signals.pop("wait_for_update") == 500
    assert set(signals) == ALL_SIGNALS
    assert {k for k, v in signals.items() if v == "granted"} == NECESSARY_SIGNALS


def test_first_layer_offers_accept_reject_and_settings_alike(page, site, server):
    """REQ W-01, W-02, N-05, A-01: three buttons of the same size and style on the first layer,
    no focus put on Accept, a labelled region with a link to the notice."""
    load(page, site, server)
    region = page.get_by_role("region", name="We use cookies")
    expect(region).to_be_visible()
    names = ["Accept all", "Reject all", "Settings"]
    looks = [button(page, n).evaluate("""(b) => { const s = getComputedStyle(b), r =
        b.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height),
        s.backgroundColor, s.color, s.fontWeight, s.fontSize, s.borderTopWidth,
        s.borderTopColor]; }""") for n in names]
    assert looks[0] == looks[1] == looks[2]
    assert looks[0][1] >= 24  # REQ A-06 target size
    assert page.evaluate("document.activeElement === document.body")
    link = region.get_by_role("link", name="Privacy notice")
    assert link.get_attribute("href") == f"{server.url}/privacy/en"
    assert page.locator("h2#csw-t").evaluate("(h) => getComputedStyle(h).textTransform") == "none"
    assert page.locator(f"{BANNER} input:checked").count() == 0  # REQ C-05


def test_reject_all_is_stored_sent_and_remembered(page, site, server):
    """REQ C-01, W-06, W-07, C-07, W-08: Reject all is one click, stored in a first-party
    cookie (SameSite=Lax, at most 13 months), recorded by the server; the page still works and
    nothing runs on the next page either."""
    load(page, site, server)
    button(page, "Reject all").click()
    expect(page.locator(BANNER)).to_have_count(0)
    cookie, value = stored(page)
    assert cookie["sameSite"] == "Lax" and cookie["secure"] is False and cookie["path"] == "/"
    assert cookie["domain"] == "localhost"
    assert 0 < cookie["expires"] - time.time() <= 396 * 86400
    assert value["choices"] == {"necessary": True, "analytics": False, "marketing": False}
    assert value["version"] == "1" and len(value["id"]) == 22
    record = server.consent(value["id"])
    assert record["choices"] == {"necessary": True, "analytics": False, "marketing": False}
    assert record["policy_version"] == "1" and record["language"] == "en"
    [event] = server.events(value["id"])
    assert event["source"] == "banner" and event["gpc"] is False
    assert consent_commands(page)[-1][1]["analytics_storage"] == "denied"
    page.reload()
    page.wait_for_selector(".csw-fab")
    assert page.locator(BANNER).count() == 0
    assert ran(page) == []
    assert page.get_attribute("iframe[data-src]", "src") is None


def test_accept_all_runs_held_back_content_once_in_order_and_on_later_pages(page, site, server):
    """REQ W-04, W-07, W-08, W-10: Accept all runs every held-back script once in document
    order (a slow external one before the inline one after it) and loads the iframe; the next
    page applies the stored choice without waiting for the network."""
    load(page, site, server, gtag=1)
    page.evaluate("""() => { window.seen = [];
        ConsentServer.on('change', (c) => seen.push(['on', c]));
        document.addEventListener('consent:change', (e) => seen.push(['event', e.detail])); }""")
    button(page, "Accept all").click()
    page.wait_for_function("window.order.length === 4")
    assert ran(page) == ["a1", "a2", "m1", "am3"]
    assert page.get_attribute("iframe[data-consent]", "src") == "/frame.html"
    everything = {"necessary": True, "analytics": True, "marketing": True}
    assert page.evaluate("seen") == [["on", everything], ["event", everything]]
    assert page.evaluate("ConsentServer.get()") == everything
    _, value = stored(page)
    assert server.consent(value["id"])["choices"] == everything
    update_signals = consent_commands(page)[-1][1]
    assert consent_commands(page)[-1][0] == "update"
    assert all(update_signals[s] == "granted" for s in ALL_SIGNALS - {"personalization_storage"})
    # The next page: the config request never answers, and the stored choice still applies.
    page.route(f"{server.url}/api/v1/config*", lambda route: route.abort())
    page.reload()
    page.wait_for_function("window.order.length === 4")
    assert ran(page) == ["a1", "a2", "m1", "am3"]
    assert page.locator(BANNER).count() == 0
    commands = consent_commands(page)
    assert [c[0] for c in commands] == ["default", "update"]


def test_settings_save_exactly_what_is_switched_on(page, site, server):
    """REQ C-02, C-03, C-05, C-06, A-01, A-04: the settings layer is a modal dialog with one
    switch per purpose (necessary on and locked), its cookies listed, every optional one off, and
    no "legitimate interest" toggle; Save stores exactly the switched purposes."""
    load(page, site, server)
    button(page, "Settings").click()
    dialog = page.get_by_role("dialog", name="Settings")
    expect(dialog).to_be_visible()
    assert dialog.get_attribute("aria-modal") == "true"
    necessary = dialog.get_by_role("switch", name="Strictly necessary")
    analytics = dialog.get_by_role("switch", name="Statistics")
    marketing = dialog.get_by_role("switch", name="Marketing")
    expect(necessary).to_be_checked()
    expect(necessary).to_be_disabled()
    expect(analytics).not_to_be_checked()
    expect(marketing).not_to_be_checked()
    expect(dialog.get_by_role("switch")).to_have_count(3)  # REQ C-06: one per purpose, no more
    assert "legitimate" not in dialog.inner_text().lower()
    for name in ("_ga_*", "Google Ireland Limited", "_fbp", "Meta Platforms Ireland Limited"):
        expect(dialog.get_by_text(name, exact=False).first).to_be_visible()
    analytics.check()
    button(page, "Save settings").click()
    expect(dialog).to_have_count(0)
    page.wait_for_function("window.order.length === 2")
    assert ran(page) == ["a1", "a2"]
    _, value = stored(page)
    assert value["choices"] == {"necessary": True, "analytics": True, "marketing": False}
    assert server.consent(value["id"])["choices"] == value["choices"]
    assert server.events(value["id"])[0]["source"] == "preferences"
    assert page.get_attribute("iframe[data-consent]", "src") is None
    expect(page.locator(".csw-ph")).to_be_visible()  # REQ W-04: the refused iframe explains


def test_reopen_and_withdraw_deletes_the_purposes_cookies(page, site, server):
    """REQ C-08, W-05, W-10: the floating button and ConsentServer.open() bring the banner
    back, a data-consent-open link opens the settings; Reject all there withdraws in one click,
    is recorded as a withdrawal and deletes the declared cookies (also a `_ga_*` pattern)."""
    load(page, site, server)
    button(page, "Accept all").click()
    page.wait_for_function("window.order.length === 4")
    _, value = stored(page)
    names = {c["name"] for c in page.context.cookies()}
    assert {"_ga", "_ga_XYZ", "_fbp", "consent"} <= names
    page.context.add_cookies([{"name": "own", "value": "1", "url": site.origin}])
    fab = button(page, "Change consent")
    expect(fab).to_be_visible()
    page.evaluate("ConsentServer.open()")
    expect(page.locator(BANNER)).to_be_visible()
    expect(fab).to_be_hidden()
    page.keyboard.press("Escape")  # REQ C-04: leaving it open changes nothing
    expect(page.locator(BANNER)).to_have_count(0)
    page.click("#settings-link")  # the site's own link: the settings, not the first layer
    expect(page.locator(DIALOG)).to_be_visible()
    assert page.locator(BANNER).count() == 0
    button(page, "Reject all").click()
    expect(page.locator(DIALOG)).to_have_count(0)
    page.wait_for_function(
        "() => !document.cookie.includes('_ga') && !document.cookie.includes('_fbp')")
    names = {c["name"] for c in page.context.cookies()}
    assert names == {"consent", "own"}
    page.wait_for_function("!localStorage.getItem('consent-server:pending')")
    assert [e["action"] for e in server.events(value["id"])] == ["grant", "withdraw"]
    assert server.consent(value["id"])["choices"]["marketing"] is False
    fab.click()  # and once more, by the floating button
    expect(page.locator(BANNER)).to_be_visible()


def test_the_floating_button_can_be_turned_off(page, site, server):
    """REQ C-08: with data-button="false" there is no floating button; the site's own
    data-consent-open link still opens the settings."""
    load(page, site, server, **{"a-data-button": "false"})
    button(page, "Reject all").click()
    stored(page)
    assert page.locator(".csw-fab").count() == 0
    page.click("#settings-link")
    expect(page.locator(DIALOG)).to_be_visible()


def test_consent_mode_default_precedes_every_update(page, site, server):
    """REQ W-08: with or without the site's own gtag snippet, `default` (denied, wait_for_update)
    comes first in dataLayer and each choice is followed by an `update` with the mapped signals.
    Loaded without async in <head>, before the site's gtag, the default precedes every command."""
    for gtag, head in ((1, 0), (0, 0), (1, 1)):
        load(page, site, server, gtag=gtag, head=head)
        button(page, "Settings").click()
        page.get_by_role("switch", name="Marketing").check()
        button(page, "Save settings").click()
        page.wait_for_function("window.order.length === 1")
        commands = consent_commands(page)
        assert [c[0] for c in commands] == ["default", "update"]
        assert commands[1][1] == {"personalization_storage": "denied",
                                  "security_storage": "granted", "functionality_storage": "granted",
                                  "analytics_storage": "denied", "ad_storage": "granted",
                                  "ad_user_data": "granted", "ad_personalization": "granted"}
        entries = page.evaluate("dataLayer.map((e) => e[0])")
        if head:
            assert entries[:4] == ["consent", "js", "config", "consent"]
        elif gtag:
            assert entries.index("consent") < entries.index("config") or \
                entries[:2] == ["js", "config"]  # the site's own tag came before the widget
        stored(page)  # the server has answered; now forget this visitor
        page.context.clear_cookies()


def test_global_privacy_control_is_a_refusal_of_marketing(browser, site, server):
    """REQ W-09: with GPC the banner says so, its accept button says what it does (all but
    marketing) and does that, the server records the signal, and marketing can only be
    switched on in Settings."""
    ctx = browser.new_context()
    try:
        ctx.add_init_script(GPC)
        page = ctx.new_page()
        load(page, site, server)
        expect(page.locator(BANNER)).to_contain_text("Global Privacy Control")
        accept = page.locator(BANNER).get_by_role("button", name="Accept all", exact=True)
        assert accept.count() == 0
        button(page, "Accept all but marketing").click()
        page.wait_for_function("window.order.length === 2")
        assert ran(page) == ["a1", "a2"]
        _, value = stored(page)
        assert value["choices"] == {"necessary": True, "analytics": True, "marketing": False}
        assert server.events(value["id"])[0]["gpc"] is True
        assert consent_commands(page)[-1][1]["ad_storage"] == "denied"
        page.evaluate("ConsentServer.open()")
        button(page, "Settings").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Global Privacy Control")
        expect(button(page, "Accept all but marketing")).to_be_visible()
        marketing = dialog.get_by_role("switch", name="Marketing")
        expect(marketing).not_to_be_checked()
        marketing.check()
        button(page, "Save settings").click()
        page.wait_for_function("window.order.length === 4")
        page.wait_for_function("!localStorage.getItem('consent-server:pending')")
        assert server.consent(value["id"])["choices"]["marketing"] is True
    finally:
        ctx.close()


def test_keyboard_alone_completes_every_flow(page, site, server):
    """REQ A-02, A-03, C-04: Tab reaches the banner first; Settings opens a dialog that takes the
    focus, keeps it inside (Tab, Shift-Tab), closes on Escape without saving and gives the focus
    back; Space switches; Enter saves; the floating button reopens; Reject all withdraws."""
    load(page, site, server)
    focused = "() => document.activeElement && document.activeElement.textContent"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the banner comes first in the tab order: privacy link, Accept
    assert page.evaluate(focused) == "Accept all"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "Settings"
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    in_dialog = "() => !!document.activeElement.closest('dialog')"
    assert page.evaluate("document.activeElement.id") == "csw-analytics"
    for _ in range(12):  # round and round: the focus never leaves the dialog
        page.keyboard.press("Tab")
        assert page.evaluate(in_dialog)
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(in_dialog)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.evaluate(focused) == "Settings"
    assert page.context.cookies() == []  # REQ A-03, C-04: closing is not consent
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.id") == "csw-analytics"
    page.keyboard.press("Space")  # analytics on
    assert page.evaluate("document.activeElement.checked") is True
    while page.evaluate(focused) != "Save settings":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("window.order.length === 2")
    assert page.evaluate(focused) == "Change consent"  # the focus lands next to where it was
    page.keyboard.press("Enter")
    expect(page.locator(BANNER)).to_be_visible()
    assert page.evaluate("document.activeElement.classList.contains('csw-b')")
    while page.evaluate(focused) != "Reject all":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    _, value = stored(page)
    assert value["choices"] == {"necessary": True, "analytics": False, "marketing": False}


@pytest.mark.parametrize("params, words", [
    ({"lang": "nb-NO"}, ["Godta alle", "Avvis alle", "Innstillinger"]),
    ({"lang": "nn"}, ["Godta alle", "Avvis alle", "Innstillingar"]),
    ({"lang": "nn-NO"}, ["Godta alle", "Avvis alle", "Innstillingar"]),
    ({"lang": "en", "a-data-lang": "nn"}, ["Godta alle", "Avvis alle", "Innstillingar"]),
    ({"lang": "en", "a-data-lang": "no"}, ["Godta alle", "Avvis alle", "Innstillinger"]),
    ({"lang": "de"}, ["Accept all", "Reject all", "Settings"]),
    ({"lang": "nb", "a-data-lang": "en"}, ["Accept all", "Reject all", "Settings"]),
])
def test_language_from_the_page_or_the_tag(page, site, server, params, words):
    """REQ W-11, W-13, N-08: the page's lang or the tag's data-lang picks the texts; nb, no get
    bokmål (Datatilsynet's words), nn nynorsk, from the server's catalogs; anything else
    English."""
    load(page, site, server, **params)
    for word in words:
        expect(button(page, word)).to_be_visible()
    nynorsk = words[2] == "Innstillingar"
    if words[0] == "Godta alle":
        button(page, words[2]).click()
        dialog = page.get_by_role("dialog", name=words[2])
        names = (("Lagre innstillingane", "Marknadsføring") if nynorsk
                 else ("Lagre innstillinger", "Markedsføring"))
        for word in (*names, "Strengt nødvendige", "Statistikk", "Personvernerklæring"):
            expect(dialog.get_by_text(word, exact=True).first).to_be_visible()
        expect(page.locator(BANNER)).to_contain_text(
            "informasjonskapslar" if nynorsk else "informasjonskapsler")
        button(page, "Avvis alle").click()
        expect(button(page, "Endre samtykke")).to_be_visible()
        _, value = stored(page)
        assert server.consent(value["id"])["language"] == ("nn" if nynorsk else "nb")


def test_a_failed_send_is_kept_and_sent_on_the_next_page(page, site, server):
    """REQ W-07: when the server cannot be reached the choice still applies, waits in
    localStorage and is sent on the next page with the same event id (idempotent)."""
    load(page, site, server)
    page.route(f"{server.url}/api/v1/consents", lambda route: route.abort())
    button(page, "Accept all").click()
    page.wait_for_function("window.order.length === 4")
    page.wait_for_timeout(200)
    [pending] = json.loads(page.evaluate(f"localStorage.getItem('{PENDING}')"))
    assert pending["choices"] == {"analytics": True, "marketing": True}
    page.unroute(f"{server.url}/api/v1/consents")
    page.reload()
    _, value = stored(page)
    [event] = server.events(value["id"])
    assert event["event_id"] == pending["event_id"]
    page.wait_for_function("window.order.length === 4")  # the choice, read from the cookie
    assert ran(page) == ["a1", "a2", "m1", "am3"]


def test_a_first_visit_does_not_open_local_storage(browser, site, server):
    """REQ W-07, W-12: choices wait in localStorage only after a choice (which writes the cookie
    too), so a page without the cookie does not open it: that costs two blocking round trips to
    the browser process. A choice uses it as before."""
    ctx = browser.new_context()
    try:
        ctx.add_init_script("""window.storageOpened = 0;
            const real = Object.getOwnPropertyDescriptor(window, 'localStorage');
            Object.defineProperty(window, 'localStorage', { configurable: true,
                get() { window.storageOpened++; return real.get.call(window); } });""")
        page = ctx.new_page()
        load(page, site, server)
        page.wait_for_timeout(300)
        assert page.evaluate("window.storageOpened") == 0
        button(page, "Reject all").click()
        expect(page.locator(BANNER)).to_have_count(0)
        assert page.evaluate("window.storageOpened") > 0
        stored(page)
    finally:
        ctx.close()


# Counts the page's reads of document.cookie (its writes go through).
COUNT_COOKIE_READS = """window.cookieReads = 0;
const real = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
Object.defineProperty(Document.prototype, 'cookie', { configurable: true,
    get() { window.cookieReads++; return real.get.call(this); },
    set(value) { real.set.call(this, value); } });"""


def chosen_on_the_next_page(page, name):
    """A first-layer button clicked, the server's answer in the cookie, the page loaded again:
    the choice as ConsentServer gives it once the script has read it."""
    button(page, name).click()
    stored(page)
    page.reload()
    page.wait_for_function("window.ConsentServer")
    return page.evaluate("ConsentServer.get()")


def test_the_cookie_is_read_without_holding_the_page(browser, site, server):
    """REQ W-12: where the browser has a cookie store (secure pages: https, localhost), the
    banner asks it for the consent cookie, an answer that comes later, instead of reading
    document.cookie, which holds the page's main thread until the browser has looked: a first
    visit reads document.cookie not once. The choice is read back from the store on the next
    page; ConsentServer appears once it is known, never answering "no choice" before."""
    ctx = browser.new_context()
    try:
        ctx.add_init_script(COUNT_COOKIE_READS)
        page = ctx.new_page()
        load(page, site, server)
        page.wait_for_timeout(300)
        assert page.evaluate("window.cookieReads") == 0
        assert chosen_on_the_next_page(page, "Accept all") == {
            "necessary": True, "analytics": True, "marketing": True}
        assert page.evaluate("window.cookieReads") == 0  # nothing refused: nothing to remove
        page.wait_for_function("window.order.length === 4")
        assert page.locator(BANNER).count() == 0
    finally:
        ctx.close()


def test_without_a_cookie_store_the_choice_is_read_from_document_cookie(browser, site, server):
    """REQ W-06: a browser without cookieStore (Firefox before 140, Safari before 18.4, a page
    on plain http) reads the consent cookie from document.cookie: the banner, the choice and
    the choice read back on the next page work as with it."""
    ctx = browser.new_context()
    try:
        ctx.add_init_script("delete window.cookieStore;" + COUNT_COOKIE_READS)
        page = ctx.new_page()
        load(page, site, server)
        assert page.evaluate("window.cookieReads") > 0
        assert chosen_on_the_next_page(page, "Reject all") == {
            "necessary": True, "analytics": False, "marketing": False}
        assert page.locator(BANNER).count() == 0 and ran(page) == []
    finally:
        ctx.close()


def test_the_tag_twice_gives_one_banner(page, site, server):
    """REQ W-12: a page that has the script tag twice (a theme and a plugin each add it) gets
    one banner and one ConsentServer, although ConsentServer comes only once the cookie is
    read."""
    page.goto(url(site, server, twice=1))
    page.wait_for_selector(BANNER)
    page.wait_for_timeout(300)
    assert page.locator(BANNER).count() == 1
    assert page.locator("script[src*='/widget.js']").count() == 2
    button(page, "Accept all").click()
    _, value = stored(page)
    assert len(server.events(value["id"])) == 1


def test_outdated_notice_or_old_consent_asks_again(page, site, server):
    """REQ C-09, W-03: a choice stored under a notice version that is no longer valid (a material
    change), or older than the maximum age, brings the banner back and applies nothing."""
    old = {"id": None, "choices": {"necessary": True, "analytics": True, "marketing": False},
           "version": "0-withdrawn", "time": int(time.time() * 1000)}

    def with_cookie(value):
        page.context.clear_cookies()
        page.context.add_cookies([{"name": "consent", "url": site.origin,
                                   "value": urllib.parse.quote(json.dumps(value))}])
        load(page, site, server)

    with_cookie(old)
    expect(page.locator(BANNER)).to_be_visible()
    assert ran(page) == [] and page.evaluate("ConsentServer.get()") is None
    assert [c[0] for c in consent_commands(page)] == ["default"]
    expired = {**old, "version": "1", "time": int((time.time() - 366 * 86400) * 1000)}
    with_cookie(expired)
    expect(page.locator(BANNER)).to_be_visible()
    assert ran(page) == []  # an expired choice applies nothing
    current = {**old, "version": "1"}
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "consent", "url": site.origin,
                               "value": urllib.parse.quote(json.dumps(current))}])
    page.goto(url(site, server))
    page.wait_for_selector(".csw-fab")
    assert page.locator(BANNER).count() == 0


def test_small_screens_reduced_motion_and_no_layout_shift(browser, site, server):
    """REQ A-06, A-08: at 320 px the banner fits without horizontal scrolling, targets are at
    least 24 px, the end of the page can be scrolled clear of the banner, motion is off when the
    visitor asks, and the host page does not shift."""
    ctx = browser.new_context(viewport={"width": 320, "height": 640}, reduced_motion="reduce")
    try:
        page = ctx.new_page()
        page.add_init_script("""window.shifts = 0; new PerformanceObserver((l) => l.getEntries()
            .forEach((e) => { if (!e.hadRecentInput) window.shifts += e.value; }))
            .observe({type: 'layout-shift', buffered: true});""")
        load(page, site, server)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        for name in ("Accept all", "Reject all", "Settings"):
            box = button(page, name).bounding_box()
            assert box["width"] >= 24 and box["height"] >= 24 and box["x"] + box["width"] <= 320
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        link = page.locator("#settings-link").bounding_box()
        banner = page.locator(BANNER).bounding_box()
        assert link["y"] + link["height"] <= banner["y"]  # reachable above the banner
        button(page, "Settings").click()
        duration = page.get_by_role("switch", name="Statistics").evaluate(
            "(s) => getComputedStyle(s).transitionDuration")
        assert duration == "0s"
        assert page.evaluate("window.shifts") == 0
    finally:
        ctx.close()


def test_strict_csp_no_globals_and_scoped_styles(browser, site, server):
    """REQ W-12: under a strict CSP (no inline script or style without a nonce, no eval) the
    banner is styled and works, the settings layer loads, it runs nonce'd held-back scripts,
    and adds no global but ConsentServer (and the dataLayer and uetq queues of Google's and
    Microsoft's tags)."""
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.add_init_script("""window.violations = [];
            document.addEventListener('securitypolicyviolation', (e) =>
                violations.push(e.violatedDirective + ' ' + e.blockedURI));
            window.before = Object.getOwnPropertyNames(window);""")
        load(page, site, server, csp=1)
        assert page.locator(BANNER).evaluate("(b) => getComputedStyle(b).position") == "fixed"
        button(page, "Settings").click()
        expect(page.locator(DIALOG)).to_be_visible()
        assert page.locator(DIALOG).evaluate("(d) => getComputedStyle(d).maxWidth") == "640px"
        button(page, "Accept all").click()
        page.wait_for_function("() => window.order.length === 4")  # a function: no eval
        added = page.evaluate("() => Object.getOwnPropertyNames(window).filter((k) => "
                              "!before.includes(k))")
        ours = set(added) - {"order", "before", "violations", "0"}  # "0": the iframe
        assert sorted(ours) == ["ConsentServer", "dataLayer", "uetq"]
        assert page.evaluate("() => violations") == []
    finally:
        ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations_on_the_demo(browser, server, axe, scheme):
    """REQ A-07, A-05, A-01, A-04: axe-core finds no violation on the demo page, with the banner
    and with the settings layer open, in light and dark colour schemes."""
    ctx = browser.new_context(bypass_csp=True, color_scheme=scheme)  # to inject axe-core
    try:
        page = ctx.new_page()
        page.goto(f"{server.url}/demo?lang=nb")
        page.wait_for_selector(BANNER)
        for layer in ("banner", "settings"):
            if layer == "settings":
                button(page, "Innstillinger").click()
                page.wait_for_selector(DIALOG)
            result = axe(page)
            assert result == [], f"{layer}: {result}"
    finally:
        ctx.close()


def test_demo_shows_what_ran_and_what_consent_mode_received(page, server):
    """The demo shop: held-back scripts wait, then run after Accept all; the panel shows them
    and the Consent Mode commands."""
    page.goto(f"{server.url}/demo?lang=en")
    page.wait_for_selector(BANNER)
    panel = page.locator("#panel")
    expect(panel).to_contain_text("waiting for consent")
    expect(page.locator("#consent-mode")).to_contain_text("default")
    button(page, "Accept all").click()
    expect(panel.locator("[data-status]").filter(has_text="has run")).to_have_count(3)
    expect(page.locator("#consent-mode")).to_contain_text("update")
    expect(page.frame_locator("iframe[data-consent]").locator("p")).to_contain_text("video")


def test_focus_returns_to_the_link_that_opened_the_settings(page, site, server):
    """REQ A-02: opened from the site's own link, the settings and a choice later the focus is
    back on that link; a banner opened again closes on Escape without a new choice (C-04)."""
    load(page, site, server, **{"a-data-button": "false"})
    button(page, "Reject all").click()
    _, value = stored(page)
    page.focus("#settings-link")
    page.keyboard.press("Enter")
    expect(page.locator(DIALOG)).to_be_visible()
    button(page, "Accept all").click()  # inside the settings layer
    expect(page.locator(DIALOG)).to_have_count(0)
    assert page.evaluate("document.activeElement.id") == "settings-link"
    page.wait_for_function("window.order.length === 4")
    page.evaluate("ConsentServer.open()")
    expect(page.locator(BANNER)).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(BANNER)).to_have_count(0)
    page.wait_for_function("!localStorage.getItem('consent-server:pending')")
    assert [e["source"] for e in server.events(value["id"])] == ["banner", "preferences"]


def test_without_local_storage_the_choice_is_still_sent(browser, site, server):
    """REQ W-07, C-07: where the page may not use localStorage the choice is still recorded."""
    ctx = browser.new_context()
    try:
        ctx.add_init_script("Object.defineProperty(window, 'localStorage', {get() { "
                            "throw new DOMException('blocked', 'SecurityError'); }})")
        page = ctx.new_page()
        load(page, site, server)
        page.evaluate("ConsentServer.acceptAll()")
        page.wait_for_function("decodeURIComponent(document.cookie).includes('\"id\":\"')")
        cookie = next(c for c in ctx.cookies() if c["name"] == "consent")
        value = json.loads(urllib.parse.unquote(cookie["value"]))
        [event] = server.events(value["id"])
        assert event["source"] == "api" and event["choices"]["marketing"] is True
    finally:
        ctx.close()


def test_gpc_outranks_an_earlier_marketing_grant(browser, site, server):
    """REQ W-09: a marketing grant stored before the browser sent GPC is not applied."""
    ctx = browser.new_context()
    try:
        ctx.add_init_script(GPC)
        everything = {"necessary": True, "analytics": True, "marketing": True}
        ctx.add_cookies([{"name": "consent", "url": site.origin, "value": urllib.parse.quote(
            json.dumps({"id": None, "choices": everything, "version": "1",
                        "time": int(time.time() * 1000)}))}])
        page = ctx.new_page()
        page.goto(url(site, server))
        page.wait_for_selector(".csw-fab")
        page.wait_for_function("window.order.length === 2")
        assert ran(page) == ["a1", "a2"]
        assert page.evaluate("ConsentServer.get().marketing") is False
        assert consent_commands(page)[-1][1]["ad_storage"] == "denied"
    finally:
        ctx.close()


def test_a_failing_config_breaks_nothing_and_says_why(page, site, server):
    """A page in another language than the script was served in asks for its config; an answer
    that is an error (here 503) is not taken for the config: no script error, the page works, a
    one-line warning in the console says why there is no banner."""
    errors, warnings = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.route(f"{server.url}/api/v1/config*", lambda route: route.fulfill(
        status=503, content_type="application/problem+json", body='{"status": 503}'))
    page.goto(url(site, server, src_lang="en", **{"a-data-lang": "nb"}))
    page.wait_for_function("window.ConsentServer")
    page.evaluate("ConsentServer.acceptAll()")  # waits for a config that never comes
    page.wait_for_timeout(300)
    assert errors == [] and page.locator(BANNER).count() == 0
    assert page.evaluate("ConsentServer.get()") is None
    assert warnings == ["consent-server: no config (503)"]


def test_the_settings_layer_comes_in_the_pages_language(page, site, server):
    """REQ W-11: the script served in English on a Norwegian page: the settings layer's file
    (which carries the full config) is asked for in the page's language, and speaks it."""
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "widget-settings" in r.url else None)
    load(page, site, server, src_lang="en", **{"a-data-lang": "nb"})
    button(page, "Innstillinger").click()
    expect(page.locator(DIALOG).get_by_role("button", name="Lagre innstillinger")).to_be_visible()
    assert [urllib.parse.urlsplit(u).query for u in asked] == ["lang=nb"]


@pytest.mark.parametrize("languages, word", [(["de-DE", "nb-NO", "en"], "Godta alle"),
                                             (["de-DE", "en-GB", "nn"], "Accept all"),
                                             (["de-DE", "nn-NO", "nb"], "Innstillingar"),
                                             (["sv-SE"], "Accept all")])
def test_without_a_page_language_the_browsers_languages_decide(page, site, server, languages,
                                                               word):
    """REQ W-11: a page without lang gets the first of the browser's languages we have."""
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'languages', "
                         f"{{get: () => {json.dumps(languages)}}})")
    load(page, site, server, lang="")
    expect(button(page, word)).to_be_visible()


def test_in_a_sandboxed_frame_without_cookies_the_widget_still_starts(page, site, server):
    """REQ W-08: where reading cookies throws (an opaque-origin sandboxed iframe), the widget
    still sets Consent Mode's default and offers its API, and the page sees no error."""
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    load(page, site, server)
    page.evaluate("""(src) => { const f = document.createElement('iframe');
        f.name = 'sandboxed'; f.sandbox = 'allow-scripts';
        f.srcdoc = '<script src="' + src + '"></' + 'script>';
        document.body.append(f); }""", f"{server.url}/widget.js")
    frame = page.frame_locator("iframe[name=sandboxed]").owner.element_handle().content_frame()
    frame.wait_for_function("window.ConsentServer && window.dataLayer")
    assert frame.evaluate("dataLayer[0][1]") == "default"
    assert frame.evaluate("ConsentServer.get()") is None
    assert errors == []


@pytest.mark.parametrize("lang, gpc", [("nb", False), ("nn", False), ("en", False),
                                       ("nb", True)])
def test_on_a_phone_the_first_layer_leaves_half_the_screen(browser, site, server, lang, gpc):
    """REQ A-06, A-08, W-01: on a 360×740 phone the first layer covers at most half of the
    screen (also with the GPC notice), its three buttons alike and at least 24 px."""
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                              is_mobile=True, has_touch=True)
    try:
        if gpc:
            ctx.add_init_script(GPC)
        page = ctx.new_page()
        load(page, site, server, lang=lang)
        box = page.locator(BANNER).bounding_box()
        assert box["width"] * box["height"] <= 360 * 740 / 2, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        buttons = page.locator(f"{BANNER} button")
        sizes = [buttons.nth(i).bounding_box() for i in range(3)]
        assert len({(round(b["width"]), round(b["height"])) for b in sizes}) == 1, sizes
        assert all(b["height"] >= 24 and b["width"] >= 24 for b in sizes)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        ctx.close()


@pytest.mark.parametrize("path", ["/demo?lang=nb", "/demo?lang=en", "/privacy/nb", "/privacy/en"])
def test_nothing_overflows_at_320_px(browser, server, path):
    """REQ A-06: at 320 px neither the demo shop nor the notice (its cookie tables) scrolls
    sideways, and the refused video's placeholder shows its whole text and button."""
    ctx = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = ctx.new_page()
        page.goto(server.url + path)
        page.wait_for_selector(BANNER)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        button(page, "Avvis alle" if path.endswith("nb") else "Reject all").click()
        expect(page.locator(BANNER)).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        if path.startswith("/demo"):
            placeholder = page.locator(".csw-ph")
            expect(placeholder).to_be_visible()
            box = placeholder.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 320
            assert placeholder.evaluate("(p) => p.scrollHeight <= p.clientHeight && "
                                        "p.scrollWidth <= p.clientWidth")  # nothing cut off
            inner = placeholder.get_by_role("button").bounding_box()
            assert inner["y"] + inner["height"] <= box["y"] + box["height"]
    finally:
        ctx.close()


def test_the_floating_button_is_the_last_tab_stop(page, site, server):
    """REQ A-02, C-08: the first layer comes first in the tab order, but the floating button
    comes last: the site's own links (skip links first) keep their places."""
    load(page, site, server)
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('.csw-b')")
    button(page, "Reject all").click()
    stored(page)
    page.reload()
    page.wait_for_selector(".csw-fab")
    assert page.evaluate(
        "document.body.lastElementChild.contains(document.querySelector('.csw-fab'))")
    stops = []
    for _ in range(20):  # every tab stop, in order, until the focus leaves the page
        page.keyboard.press("Tab")
        here = page.evaluate("document.activeElement === document.body ? null : "
                             "document.activeElement.tagName + ' ' + "
                             "document.activeElement.textContent")
        if here is None or here in stops:
            break
        stops.append(here)
    assert stops[0] != "BUTTON Change consent"  # the page's own first: the placeholder here
    assert stops[-1] == "BUTTON Change consent" and len(stops) >= 3, stops


@pytest.mark.parametrize("lang", ["en", "nb", "nn"])
def test_the_settings_show_the_consent_id_and_the_date(browser, site, server, lang):
    """REQ C-07, C-08: a visitor can read their consent id and the date of their choice in the
    settings (to quote them to the company); the server's signed receipt is kept too."""
    from babel.dates import format_date

    ctx = browser.new_context(timezone_id="Europe/Oslo")
    try:
        page = ctx.new_page()
        load(page, site, server, lang=lang)
        with page.expect_response(f"{server.url}/api/v1/consents") as answer:
            button(page, "Reject all" if lang == "en" else "Avvis alle").click()
        _, value = stored(page)
        receipt = answer.value.json()["receipt"]
        assert receipt.count(".") == 2  # a JWS, signed by the server
        assert page.evaluate("localStorage.getItem('consent-server:receipt')") == receipt
        chosen = datetime.fromtimestamp(value["time"] / 1000, ZoneInfo("Europe/Oslo")).date()
        page.click("#settings-link")
        record = page.locator(f"{DIALOG} .csw-id")
        if lang == "en":
            expect(record).to_have_text(f"Your consent ID: {value['id']}Chosen on: "
                                        f"{chosen.day} {format_date(chosen, 'MMMM', locale='en')}"
                                        f" {chosen.year}")
        else:
            chosen_on = "Valgt den" if lang == "nb" else "Valt den"
            expect(record).to_have_text(f"Samtykke-ID: {value['id']}{chosen_on}: "
                                        f"{format_date(chosen, 'long', locale=lang)}")
    finally:
        ctx.close()


def test_no_consent_id_before_a_choice(page, site, server):
    load(page, site, server)
    button(page, "Settings").click()
    expect(page.locator(DIALOG)).to_be_visible()
    assert page.locator(f"{DIALOG} .csw-id").count() == 0


def test_microsoft_uet_and_clarity_get_the_same_choice(page, site, server):
    """REQ W-08: beside Google Consent Mode, Microsoft UET's consent mode (default denied first,
    then an update per choice) and Clarity's consent API get the choice, from the same purpose
    map: ad_storage from marketing, analytics_Storage from analytics."""
    load(page, site, server, clarity=1)
    uet = "() => window.uetq"
    assert page.evaluate(uet) == ["consent", "default", {"ad_storage": "denied"}]
    assert page.evaluate("window.clarity.q") is None  # nothing before a choice
    button(page, "Settings").click()
    page.get_by_role("switch", name="Statistics").check()
    button(page, "Save settings").click()
    page.wait_for_function("window.order.length === 2")
    assert page.evaluate(uet)[3:] == ["consent", "update", {"ad_storage": "denied"}]
    assert page.evaluate("window.clarity.q")[-1] == [
        "consentv2", {"ad_Storage": "denied", "analytics_Storage": "granted"}]
    page.evaluate("ConsentServer.acceptAll()")
    page.wait_for_function("window.order.length === 4")
    assert page.evaluate(uet)[-3:] == ["consent", "update", {"ad_storage": "granted"}]
    assert page.evaluate("window.clarity.q")[-1] == [
        "consentv2", {"ad_Storage": "granted", "analytics_Storage": "granted"}]
    page.reload()  # a stored choice: told again on every page
    page.wait_for_function("window.order.length === 4")
    assert page.evaluate(uet) == ["consent", "default", {"ad_storage": "denied"},
                                  "consent", "update", {"ad_storage": "granted"}]
    assert page.evaluate("window.clarity.q")[-1][1]["ad_Storage"] == "granted"


def test_a_site_not_allowed_gets_a_reason_in_the_console(page, site, server):
    """A page whose origin is not in CONSENT_ALLOWED_ORIGINS gets no banner, and the console
    says why in one line; Consent Mode still starts denied."""
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    refused = site.origin.replace("localhost", "127.0.0.1")
    page.goto(f"{refused}/")
    page.wait_for_function("window.ConsentServer")
    page.wait_for_timeout(300)
    assert page.locator(BANNER).count() == 0
    assert warnings == [f"consent-server: {refused} is not in CONSENT_ALLOWED_ORIGINS: "
                        "no banner here"]
    assert consent_commands(page)[0][0] == "default"


# ---- the consent server on a subdomain of the site (Safari's 7-day limit on script cookies) ---

@pytest.fixture
def subdomains(app_factory, launch_chromium):
    """The site on www.shop.localtest, the consent server on consent.shop.localtest (both
    loopback, by Chromium's host resolver rules), CONSENT_COOKIE_DOMAIN = shop.localtest.

    This consent server runs in a thread of this process, not under pytest-flask's live_server
    (a process of its own, forked when it starts): the test changes the running server's
    settings halfway (it removes CONSENT_COOKIE_DOMAIN), which another process would not see."""
    host = HostSite()
    host.origin = f"http://www.shop.localtest:{host.httpd.server_port}"
    app = app_factory(ALLOWED_ORIGINS=host.origin, COOKIE_DOMAIN="shop.localtest")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    host.server_url = app.config["PUBLIC_URL"] = (
        f"http://consent.shop.localtest:{httpd.server_port}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    chromium = launch_chromium("--host-resolver-rules=MAP *.shop.localtest 127.0.0.1")
    yield host, ConsentServer(host.server_url, app), chromium
    chromium.close()
    httpd.shutdown()
    httpd.server_close()
    thread.join()
    host.close()


def consent_cookies(ctx):
    return [c for c in ctx.cookies() if c["name"] == "consent"]


def test_the_server_sets_one_cookie_for_all_subdomains(subdomains):
    """REQ W-06, C-09: with the consent server on a subdomain and CONSENT_COOKIE_DOMAIN, the
    choice's cookie comes from the server's answer (which Safari keeps for its whole lifetime,
    unlike a cookie written by script), on the shared domain: one cookie, seen by every
    subdomain; a host-only copy from before the setting is moved, not left beside it, and it
    moves back when the setting is removed."""
    site, server, chromium = subdomains
    ctx = chromium.new_context()
    try:
        earlier = {"id": None, "choices": {"necessary": True, "analytics": False,
                                           "marketing": False}, "version": "1",
                   "time": int(time.time() * 1000)}
        ctx.add_cookies([{"name": "consent", "url": site.origin,  # host-only, as before
                          "value": urllib.parse.quote(json.dumps(earlier))}])
        page = ctx.new_page()
        page.goto(f"{site.origin}/")
        page.wait_for_selector(".csw-fab")
        [moved] = consent_cookies(ctx)
        assert moved["domain"] == ".shop.localtest"
        assert json.loads(urllib.parse.unquote(moved["value"]))["choices"] == earlier["choices"]
        page.evaluate("ConsentServer.open()")
        with page.expect_response(f"{server.url}/api/v1/consents") as answer:
            button(page, "Accept all").click()
        headers = answer.value.all_headers()
        assert "Domain=shop.localtest" in headers["set-cookie"]
        assert headers["access-control-allow-credentials"] == "true"
        _, value = stored(page)
        [cookie] = consent_cookies(ctx)
        assert cookie["domain"] == ".shop.localtest" and cookie["sameSite"] == "Lax"
        assert server.consent(value["id"])["choices"]["marketing"] is True
        assert 360 * 86400 < cookie["expires"] - time.time() <= 365 * 86400
        assert [c["name"] for c in ctx.cookies(server.url)].count("consent") == 1
        page.reload()
        page.wait_for_function("window.order.length === 4")
        assert page.locator(BANNER).count() == 0 and len(consent_cookies(ctx)) == 1
        # The setting is removed: the cookie moves back to the site's own host, once.
        server.app.config["COOKIE_DOMAIN"] = None
        server.app.extensions.pop("consent_widget")
        page.goto(f"{site.origin}/?src_lang=en")  # another URL: not the script in the cache
        page.wait_for_function("window.order.length === 4")
        [back] = consent_cookies(ctx)
        assert back["domain"] == "www.shop.localtest"
        assert json.loads(urllib.parse.unquote(back["value"]))["id"] == value["id"]
    finally:
        server.app.config["COOKIE_DOMAIN"] = "shop.localtest"
        server.app.extensions.pop("consent_widget", None)
        ctx.close()


def test_opened_twice_one_banner_and_one_spacer(page, site, server):
    """ConsentServer.open() twice shows one banner, with one spacer at the end of the page, and
    both go with the choice."""
    load(page, site, server)
    page.evaluate("ConsentServer.open(); ConsentServer.open()")
    spacers = "document.querySelectorAll('body > div:not([class])').length"
    assert page.locator(BANNER).count() == 1 and page.evaluate(spacers) == 1
    button(page, "Reject all").click()
    expect(page.locator(BANNER)).to_have_count(0)
    assert page.evaluate(spacers) == 0


def test_the_room_at_the_end_follows_the_banner_when_the_phone_turns(browser, site, server):
    """REQ A-06: the spacer at the end of the page is as high as the banner, also after the
    banner's height changes (a phone turned from landscape to portrait), so the page's last
    lines can still be scrolled clear of it (a ResizeObserver measures the banner after the
    frame's layout: issue 21's script time)."""
    ctx = browser.new_context(viewport={"width": 740, "height": 360})
    try:
        page = ctx.new_page()
        load(page, site, server)
        heights = """() => [document.querySelector('.csw-b').offsetHeight,
            document.querySelector('body > div:not([class])').offsetHeight]"""
        page.wait_for_function(f"({heights})().every((h, _, [b]) => h === b)")
        [wide, _] = page.evaluate(heights)
        page.set_viewport_size({"width": 360, "height": 740})
        page.wait_for_function(f"({heights})().every((h, _, [b]) => h === b && h !== {wide})")
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        link = page.locator("#settings-link").bounding_box()
        assert link["y"] + link["height"] <= page.locator(BANNER).bounding_box()["y"]
    finally:
        ctx.close()
