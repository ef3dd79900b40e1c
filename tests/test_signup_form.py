"""The sign-up form a site pastes, without JavaScript: POST /subscriptions/signup (form-encoded)
answers with a page, goes through the API's one sign-up path and its limits, and leads only to
a confirmation mail (double opt-in)."""
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.models import ConsentEvent, Person
from consent_server.people.addresses import subject_hash

SHOP = "https://shop.example"


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


def post(client, origin=SHOP, **fields):
    """The form as a browser sends it from the shop's page (Origin, form-encoded)."""
    form = {"email": "kari@example.no", "purpose": ["newsletter"], "language": "nb",
            "policy_version": "", "consent_id": "", **fields}
    headers = {"Origin": origin} if origin else {}
    return client.post("/subscriptions/signup", data=form, headers=headers)


def person(app, address):
    with app.app_context():
        subject = subject_hash(app.config["EMAIL_HASH_KEY"], address)
        return db.session.execute(select(Person).where(Person.subject == subject)).scalar()


def test_the_form_leads_to_a_page_and_a_confirmation_mail_only(client, app, smtp, text_part):
    """REQ M-02: the form's post answers a page in the people's look, in the form's language
    ("check your e-mail", a way back to the shop); a confirmation mail went out; nothing is in
    the ledger until the link's button is pressed."""
    response = post(client, email=" Kari@Example.no ", purpose=["newsletter", "marketing"])
    assert response.status_code == 202
    assert response.mimetype == "text/html" and response.headers["Content-Language"] == "nb"
    page = response.get_data(as_text=True)
    assert "<h1>Sjekk e-posten din</h1>" in page and "people.css" in page
    assert f'<a href="{SHOP}">Tilbake til nettsiden</a>' in page
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["To"] == "Kari@example.no"
    assert "/subscriptions/confirm/" in text_part(smtp.messages[0])
    pending = person(app, "Kari@example.no")
    assert json.loads(pending.pending) == {"marketing": True, "newsletter": True}
    assert pending.pending_policy_version == "1"  # the form named none: the one published
    with app.app_context():
        assert db.session.execute(select(ConsentEvent)).first() is None


def test_the_form_carries_the_consent_id_language_and_version_the_widget_fills(client, app,
                                                                              smtp, text_part):
    """REQ C-07: the device's consent id goes with the pending person; the language chosen
    is the mail's."""
    response = post(client, language="en", policy_version="1", consent_id="dev-123")
    assert response.status_code == 202
    assert "<h1>Check your e-mail</h1>" in response.get_data(as_text=True)
    assert smtp.messages[0]["Subject"] == "Confirm your subscription"
    assert person(app, "kari@example.no").consent_id == "dev-123"


def test_without_double_opt_in_the_form_signs_up_at_once(app, app_factory, smtp, mail_settings):
    """With CONSENT_DOUBLE_OPT_IN off the one sign-up path grants at once: 201 and a thank-you
    page, no "check your e-mail"."""
    client = app_factory(**mail_settings, DOUBLE_OPT_IN=False).test_client()
    response = post(client)
    page = response.get_data(as_text=True)
    assert response.status_code == 201
    assert "Takk! Påmeldingen din er bekreftet." in page and "Sjekk e-posten" not in page
    with app.app_context():
        assert db.session.execute(select(ConsentEvent.source)).scalars().all() == ["signup"]
    assert smtp.messages == []


@pytest.mark.parametrize("email", ["", "kari", "kari@", "kari@@example.no"])
def test_a_missing_or_bad_address_is_a_4xx_page_keeping_what_was_typed(client, smtp, email):
    """The form comes back with 422, says what to put right next to the field, and keeps
    the address typed and the boxes ticked; no mail."""
    response = post(client, email=email, purpose=["marketing"])
    assert response.status_code == 422 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Skriv inn en gyldig e-postadresse" in page
    assert 'aria-invalid="true" aria-describedby="signup-email-error"' in page
    assert f'value="{email}"' in page
    assert re.search(r'value="marketing"[^>]*checked', page)
    assert not re.search(r'value="newsletter"[^>]*checked', page)
    assert smtp.messages == []


def test_nothing_ticked_or_an_unknown_purpose_is_a_4xx_page(client, smtp):
    """No purpose, or one the server does not know: 422 with what to do; the address stays;
    the unknown choice is not repeated (no text of a forged post shown on our domain)."""
    response = post(client, purpose=[])
    assert response.status_code == 422
    assert "Kryss av for minst ett av valgene." in response.get_data(as_text=True)
    response = post(client, purpose=["newsletter", "Call 555 to unlock your account"],
                    email="ola@example.no")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Dette skjemaet sendte et valg vi ikke kjenner." in page
    assert "555" not in page  # what a post sent is not said back on this server's page
    assert 'value="ola@example.no"' in page
    assert smtp.messages == []


def test_an_unknown_notice_version_is_a_4xx_page(client, smtp):
    response = post(client, policy_version="99")
    assert response.status_code == 422
    assert "Skjemaet kunne ikke sendes." in response.get_data(as_text=True)
    assert smtp.messages == []


def test_a_site_not_allowed_cannot_post_the_form(client, smtp):
    """REQ S-02: a browser page of another site (its Origin) is refused with a page; a post
    without Origin (no browser page) is let through, as the API does."""
    response = post(client, origin="https://evil.example")
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert "Dette skjemaet kan ikke sendes fra denne nettsiden." in response.get_data(as_text=True)
    assert smtp.messages == []
    response = post(client, origin=None)
    assert response.status_code == 202
    assert "Tilbake til nettsiden" not in response.get_data(as_text=True)


def test_the_form_shares_the_apis_rate_limit_and_resend_limit(app, app_factory, smtp,
                                                              mail_settings):
    """REQ S-03 M-02: the form and the API draw on one budget per client network; the 429 is
    a page saying to wait, with Retry-After; however often the form is sent, one mail per
    address per CONSENT_CONFIRM_RESEND_MINUTES."""
    client = app_factory(**mail_settings, RATELIMIT_PUBLIC="3/minute").test_client()
    assert post(client).status_code == 202
    assert client.post("/api/v1/subscriptions", json={
        "email": "kari@example.no", "purposes": {"newsletter": True}, "language": "nb",
        "policy_version": "1"}).status_code == 202
    assert post(client).status_code == 202
    response = post(client)
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) >= 1
    assert "Vent et minutt og prøv igjen." in response.get_data(as_text=True)
    assert len(smtp.messages) == 1  # three sign-ups of one address, one mail
    other = client.post("/subscriptions/signup", data={"email": "ola@example.no",
                                                       "purpose": "newsletter"},
                        environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 202


def test_a_body_over_16_kib_is_a_4xx_page(client, smtp):
    response = post(client, email="a" * 17000 + "@example.no")
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert smtp.messages == []


@pytest.mark.parametrize("lang, meaning", [
    ("nb", "Nyhetsbrevet vårt på e-post, omtrent én gang i måneden"),
    ("nn", "Nyheitsbrevet vårt på e-post, om lag éin gong i månaden"),
    ("en", "Our newsletter by e-mail, about once a month")])
def test_the_form_says_what_each_purpose_means_from_the_site_file(client, lang, meaning):
    """REQ C-03 C-05 N-08: GET /subscriptions/signup shows the form in the people's look: each
    purpose with its meaning from the site file (the confirmation mail's words), the notice
    linked, nothing ticked; in nb, nn and en."""
    response = client.get(f"/subscriptions/signup?lang={lang}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert meaning in page
    assert {"nb": "høyst én gang i uken", "nn": "høgst éin gong i veka",
            "en": "at most once a week"}[lang] in page
    assert 'action="http://localhost/subscriptions/signup"' not in page  # PUBLIC_URL's
    assert 'action="https://consent.example/subscriptions/signup"' in page
    assert f'href="https://consent.example/privacy/{lang}"' in page
    assert " checked" not in page
    assert f'name="language" value="{lang}"' in page


def test_the_readme_gives_the_form_as_served(client):
    """The README's snippet is the form the server renders (one source): the same HTML, with
    the server's address as the example's."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"## Sign-up form.*?```html\n(.*?)```", readme, re.S).group(1)
    page = client.get("/subscriptions/signup?lang=nb").get_data(as_text=True)
    served = re.search(r"<form class=\"signup\".*?</form>\n", page, re.S).group(0)
    assert snippet == served.replace("https://consent.example", "https://consent.example.no")
