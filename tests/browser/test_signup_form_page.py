"""The sign-up form on /demo in headless Chromium: with the widget it sends the device's consent
id, the page's language and the notice version; without JavaScript it works all the same. And
the floating button that the site asks to leave the page while it scrolls (issue 21)."""
import json
from urllib.parse import parse_qs, unquote

import pytest
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.models import ConsentEvent, Person
from consent_server.people.addresses import subject_hash

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover (the tests here skip, see fixtures_browser)
    expect = None


@pytest.fixture
def app_settings(mail_settings, live_settings):
    """The app that live_server serves, mailing through the test SMTP server."""
    return {**mail_settings, **live_settings}


def person(app, address):
    with app.app_context():
        subject = subject_hash(app.config["EMAIL_HASH_KEY"], address)
        return db.session.execute(select(Person).where(Person.subject == subject)).scalar()


def consent_cookie(page):
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return json.loads(unquote(cookies["consent"]))


def sign_up(page, address):
    """Type the address, tick the newsletter, send; the form's post as the browser sent it."""
    page.get_by_label("E-postadresse").fill(address)
    page.get_by_label("Nyhetsbrev", exact=True).check()
    with page.expect_request("**/subscriptions/signup") as sent:
        page.get_by_role("button", name="Meld meg på").click()
    page.wait_for_selector("text=Sjekk e-posten din")
    return {k: v[0] for k, v in parse_qs(sent.value.post_data, keep_blank_values=True).items()}


def test_with_the_widget_the_form_sends_the_consent_id(browser, live_server, config, app, smtp,
                                                         text_part):
    """REQ C-07 M-02: after a choice on the banner, the form's hidden fields carry the
    device's consent id, the page's language and the notice version the banner showed; the
    pending person carries that consent id; a confirmation mail went out; nothing recorded
    for the person yet."""
    context = browser.new_context(locale="nb-NO")
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type in ("error", "warning")
            and not message.text.startswith("Failed to load resource") else None)
    page.on("response", lambda response: errors.append(response.url)
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    page.goto(f"{config['PUBLIC_URL']}/demo?lang=nb")
    page.get_by_role("button", name="Avvis alle", exact=True).click()
    page.wait_for_function("() => /%22id%22/.test(document.cookie)")  # the ledger's answer
    consent_id = consent_cookie(page)["id"]
    form = sign_up(page, "kari@example.no")
    assert form["consent_id"] == consent_id
    assert form["language"] == "nb" and form["policy_version"] == "1"
    assert person(app, "kari@example.no").consent_id == consent_id
    assert len(smtp.messages) == 1
    assert "/subscriptions/confirm/" in text_part(smtp.messages[0])
    with app.app_context():
        subjects = db.session.execute(select(ConsentEvent.subject_type)).scalars().all()
    assert subjects == ["device"]  # the banner's refusal; the person is pending
    assert errors == []
    context.close()


def test_without_javascript_the_form_still_works(browser, live_server, config, app, smtp):
    """REQ M-02: no script runs (no banner either): the form posts, the page answers, the
    confirmation mail goes out; no consent id is sent. An address the browser lets through and
    the server does not comes back as the form, with what was typed, and can be sent again
    from there."""
    context = browser.new_context(java_script_enabled=False, locale="nb-NO")
    page = context.new_page()
    page.goto(f"{config['PUBLIC_URL']}/demo?lang=nb")
    assert page.locator(".csw-b").count() == 0
    form = sign_up(page, "ola@example.no")
    assert form["consent_id"] == "" and form["policy_version"] == ""
    assert person(app, "ola@example.no").consent_id is None
    assert person(app, "ola@example.no").pending_policy_version == "1"
    assert len(smtp.messages) == 1
    # A typing error comes back as the form with the address kept, and a 422.
    page.go_back()
    page.get_by_label("E-postadresse").fill("ola@example")  # the browser lets it through
    with page.expect_response("**/subscriptions/signup") as answer:
        page.get_by_role("button", name="Meld meg på").click()
    assert answer.value.status == 422
    expect(page.get_by_text("Skriv inn en gyldig e-postadresse")).to_be_visible()
    expect(page.get_by_label("E-postadresse")).to_have_value("ola@example")
    expect(page.get_by_label("Nyhetsbrev", exact=True)).to_be_checked()
    # Put right on that page (ours), the form is sent again from there.
    sign_up(page, "ola.nordmann@example.no")
    assert person(app, "ola.nordmann@example.no").pending is not None
    context.close()


VISIBILITY = "() => getComputedStyle(document.querySelector('.csw-fab')).visibility"
SCROLL = """async (y) => { scrollBy(0, y);
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))); }"""


def test_the_floating_button_hides_while_the_page_scrolls(browser, live_server, config):
    """REQ C-08 A-06: at 320×640, with data-button="scroll" on the tag, the floating button is
    hidden while the page scrolls and back once it stops; so too on the next page (a stored
    choice); it stays while it has the keyboard's focus. Without the attribute it stays."""
    context = browser.new_context(viewport={"width": 320, "height": 640}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2, locale="nb-NO")
    page = context.new_page()
    page.goto(f"{config['PUBLIC_URL']}/demo?lang=nb&button=scroll")
    page.get_by_role("button", name="Avvis alle", exact=True).click()
    fab = page.locator(".csw-fab")
    for visit in ("after the choice", "on the next page"):
        page.evaluate("() => scrollTo(0, 0)")  # a reload may restore the scroll
        expect(fab).to_be_visible(timeout=2000)
        for step in range(4):  # a scroll that goes on: hidden all along
            page.evaluate(SCROLL, 120)
            assert page.evaluate(VISIBILITY) == "hidden", (visit, step)
            page.wait_for_timeout(150)
        expect(fab).to_be_visible(timeout=2000)  # it stopped: back
        assert page.evaluate(VISIBILITY) == "visible"
        page.reload()
    expect(fab).to_be_visible(timeout=2000)  # the script is async: after the reload, wait for it
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("Shift+Tab")  # the last tab stop, from the keyboard
    assert page.evaluate("() => document.activeElement.matches('.csw-fab:focus-visible')")
    page.evaluate(SCROLL, -200)
    assert page.evaluate(VISIBILITY) == "visible"  # the keyboard's focus stays in sight
    page.goto(f"{config['PUBLIC_URL']}/demo?lang=nb")
    expect(fab).to_be_visible()
    page.evaluate(SCROLL, 200)
    assert page.evaluate(VISIBILITY) == "visible"
    context.close()


@pytest.mark.parametrize("width, scheme, language", [(320, "light", "nb"), (360, "dark", "en"),
                                                     (320, "dark", "nn")])
def test_the_form_pages_fit_a_phone_and_pass_axe(browser, live_server, config, axe, smtp, width,
                                                 scheme, language):
    """REQ A-05 A-06 A-07: the form's own page, the form sent back with an error and the
    "check your e-mail" page: nothing scrolls sideways, buttons at least 44 px high, and
    axe-core reports no violation, in light and dark."""
    # bypass_csp only so that axe-core can be injected.
    context = browser.new_context(viewport={"width": width, "height": 740}, color_scheme=scheme,
                                  bypass_csp=True, locale=language)
    page = context.new_page()
    page.goto(f"{config['PUBLIC_URL']}/subscriptions/signup?lang={language}")
    address = page.locator("#signup-email")
    for step in ("form", "error", "sent"):
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, step
        heights = page.locator("button").evaluate_all(
            "(bs) => bs.map((b) => b.getBoundingClientRect().height)")
        assert all(height >= 44 for height in heights), (step, heights)
        assert axe(page) == [], step
        assert page.locator(".warning").count() == (step == "error"), step
        if step == "sent":
            break
        address.fill("kari@example" if step == "form" else "kari@example.no")
        page.locator("#signup-newsletter").check()
        with page.expect_navigation():
            page.locator("button[type=submit]").click()
    assert page.locator("h1").inner_text() in ("Sjekk e-posten din", "Check your e-mail")
    context.close()
