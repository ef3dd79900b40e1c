"""The confirmation page in headless Chromium: it submits nothing by itself, scripts or not
(link scanners such as Safe Links load the page and run its scripts); the person's click on
its one button confirms (REQ M-08)."""
import pytest


@pytest.fixture
def app_settings(mail_settings, live_settings):
    """The app that live_server serves, mailing through the test SMTP server (the mail's links
    lead to the live server)."""
    return {**mail_settings, **live_settings}


@pytest.fixture
def confirmation_url(live_server, client, smtp, sign_up, text_part):
    """Sign up (through the test client); the confirmation link of the mail that came."""
    assert sign_up(client, "kari@example.no").status_code == 202
    return next(word for word in text_part(smtp.messages[-1]).split()
                if "/subscriptions/confirm/" in word)


def test_with_javascript_the_page_confirms_nothing_until_its_button_is_clicked(
        confirmation_url, browser, client, api_key, check):
    """REQ M-08 M-02: the page loads, its scripts (none) run, time passes, nothing is
    clicked: still pending; then the click confirms, with no CSP error."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(confirmation_url, wait_until="networkidle")
    page.wait_for_timeout(1500)
    key = api_key()
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "pending")]
    assert page.locator("button").count() == 1 and page.locator("script").count() == 0
    page.click("button")
    page.wait_for_selector("text=Takk! Påmeldingen din er bekreftet.")
    page.close()
    assert errors == []
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("allowed", "consent")]


def test_without_javascript_the_page_waits_for_its_one_button(confirmation_url, browser, client,
                                                              api_key, check):
    """REQ M-08: a fetch (or a browser without scripts) confirms nothing; the button does."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(confirmation_url)
    key = api_key()
    assert page.locator("button").count() == 1
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "pending")]
    page.click("button")
    page.wait_for_selector("text=Takk! Påmeldingen din er bekreftet.")
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("allowed", "consent")]
    context.close()
