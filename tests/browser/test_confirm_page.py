"""The confirmation page in headless Chromium: with JavaScript it confirms itself (one click
from the mail, under the page's strict CSP); without JavaScript it waits for its button."""
import threading

import pytest
from werkzeug.serving import make_server

from conftest import empty_and_close, make_app, publish
from people_fixtures import check, link, mail_settings, sign_up, smtp  # noqa: F401


@pytest.fixture
def served(database_url, smtp):
    app = make_app(database_url, **mail_settings(smtp.port))
    publish(app)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app
    httpd.shutdown()
    httpd.server_close()
    thread.join()
    empty_and_close(app)


def confirmation_url(app, smtp) -> str:
    client = app.test_client()
    assert sign_up(client, "kari@example.no").status_code == 202
    text = smtp.messages[-1].get_body(("plain",)).get_content()
    return next(word for word in text.split() if "/subscriptions/confirm/" in word)


def marketing_key(app) -> dict:
    from consent_server.staff import keys
    from consent_server.extensions import db

    with app.app_context():
        _key, secret = keys.create_key(db.session, "browser", "marketing")
    return {"Authorization": f"Bearer {secret}"}


def test_with_javascript_the_page_confirms_itself_under_its_csp(served, smtp, browser):
    """REQ M-02 M-08: one click in the mail is enough; the script is a file, no CSP error."""
    url = confirmation_url(served, smtp)
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("text=Takk, abonnementet ditt er bekreftet")
    page.close()
    assert errors == []
    assert check(served.test_client(), marketing_key(served), "newsletter",
                 ["kari@example.no"]) == [("allowed", "consent")]


def test_without_javascript_the_page_waits_for_its_one_button(served, smtp, browser):
    """REQ M-08: a fetch (or a browser without scripts) confirms nothing; the button does."""
    url = confirmation_url(served, smtp)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(url)
    key = marketing_key(served)
    assert page.locator("button").count() == 1
    assert check(served.test_client(), key, "newsletter", ["kari@example.no"]) == [
        ("denied", "pending")]
    page.click("button")
    page.wait_for_selector("text=Takk, abonnementet ditt er bekreftet")
    assert check(served.test_client(), key, "newsletter", ["kari@example.no"]) == [
        ("allowed", "consent")]
    context.close()
