"""How soon a published notice version reaches a returning visitor whose browser cache is warm
(issue 21): widget.js carries the valid versions and is kept only briefly."""
import time

import pytest

from consent_server.consent.banner import FRESH_SECONDS
from consent_server.web.widget import VERSIONS_TTL

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover (the tests here skip, see fixtures_browser)
    expect = None

# The bound the README states, and a second more: the first page opened after it asks again.
BOUND = VERSIONS_TTL + FRESH_SECONDS
WAIT = BOUND + 1


@pytest.fixture
def app_settings(live_settings):
    """The app that live_server serves."""
    return live_settings


def transfer_size(page) -> int:
    """Bytes the browser fetched for widget.js on this page: 0 when its cache served it."""
    return page.evaluate("""() => performance.getEntriesByType('resource')
        .find((e) => new URL(e.name).pathname === '/widget.js').transferSize""")


def open_demo(page, config, shown):
    """The demo shop, once the banner has started: the first layer, or the floating button."""
    page.goto(f"{config['PUBLIC_URL']}/demo?lang=en")
    page.wait_for_selector(".csw-b" if shown else ".csw-fab")


def test_a_material_version_asks_again_within_the_stated_bound(browser, live_server, config,
                                                               runner):
    """REQ C-09, N-04: after Accept all, a non-material publication keeps the choice and a
    material one brings the banner back on the first page opened more than BOUND seconds (the
    README's 20 s, under the issue's 30 s) later, although the browser's cache holds widget.js."""
    assert BOUND <= 30
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        open_demo(page, config, shown=True)
        page.get_by_role("button", name="Accept all", exact=True).click()
        page.wait_for_function("() => document.cookie.includes('consent=')")
        open_demo(page, config, shown=False)
        assert transfer_size(page) == 0  # the cache is warm: widget.js came from it

        result = runner.invoke(args=["consent", "publish-policy", "--force"])
        assert result.exit_code == 0, result.output
        time.sleep(WAIT)
        open_demo(page, config, shown=False)  # a wording change keeps the choice
        assert transfer_size(page) > 0  # asked the server again (the new versions came)
        assert page.evaluate("ConsentServer.get()")["analytics"] is True
        open_demo(page, config, shown=False)
        assert transfer_size(page) == 0  # and the cache is warm again

        result = runner.invoke(args=["consent", "publish-policy", "--material", "--force"])
        assert result.exit_code == 0, result.output
        time.sleep(WAIT)
        open_demo(page, config, shown=True)
        expect(page.get_by_role("button", name="Accept all", exact=True)).to_be_visible()
        assert page.evaluate("ConsentServer.get()") is None
        assert page.evaluate("window.dataLayer.filter((e) => e[0] === 'consent')"
                             ".map((e) => e[1])") == ["default"]  # nothing granted applied
    finally:
        ctx.close()
