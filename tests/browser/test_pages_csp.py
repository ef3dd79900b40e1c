"""Our own pages under their own strict CSP, in Chromium: styled, the banner works, no violation."""
import pytest


@pytest.fixture
def app_settings(live_settings):
    """The app that live_server serves."""
    return live_settings


def test_the_notice_page_works_under_its_csp(browser, live_server, config):
    """REQ S-05: /privacy under its strict CSP: its nonce'd style applies, the banner shows
    and records, and the browser reports no policy violation."""
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.add_init_script("""window.violations = [];
            document.addEventListener('securitypolicyviolation', (e) =>
                violations.push(e.violatedDirective + ' ' + e.blockedURI));""")
        page.goto(f"{config['PUBLIC_URL']}/privacy/en")
        page.wait_for_selector(".csw-b")  # the banner's first layer
        assert page.evaluate("() => getComputedStyle(document.body).maxWidth") != "none"
        assert page.locator(".csw-b").evaluate("(b) => getComputedStyle(b).position") == "fixed"
        page.get_by_role("button", name="Reject all").click()
        page.wait_for_function("() => document.cookie.includes('consent=')")
        assert page.evaluate("() => violations") == []
    finally:
        ctx.close()
