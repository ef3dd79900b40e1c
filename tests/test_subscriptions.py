"""Sign-up with double opt-in through a real SMTP server, the confirmation page and its POST."""
import json
import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from consent_server import ledger
from consent_server.extensions import db
from consent_server.models import ConsentEvent, Person
from consent_server.people import links
from consent_server.people.addresses import subject_hash


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


def events_of(app, address: str):
    with app.app_context():
        subject = subject_hash(app.config["EMAIL_HASH_KEY"], address)
        rows = db.session.execute(select(ConsentEvent).where(ConsentEvent.subject == subject)
                                  .order_by(ConsentEvent.seq)).scalars().all()
        return [(e.action, e.source, json.loads(e.choices), e.subject_type, e.ip) for e in rows]


def test_sign_up_is_pending_and_mails_a_confirmation_in_norwegian(client, app, smtp, html_part,
                                                                  sign_up, text_part):
    """REQ M-02: 202 pending, a multipart mail in bokmål, nothing in the ledger yet."""
    response = sign_up(client, " Kari.Nordmann@Example.NO ")
    assert response.status_code == 202
    assert response.get_json() == {"status": "pending"}
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "Kari.Nordmann@example.no"  # REQ M-05
    assert smtp.envelopes[0].rcpt_tos == ["Kari.Nordmann@example.no"]
    assert message["Subject"] == "Bekreft påmeldingen din"
    assert message.get_content_type() == "multipart/alternative"
    text, html = text_part(message), html_part(message)
    assert "Nyhetsbrev" in text and "Nyhetsbrev" in html
    assert "/subscriptions/confirm/" in text and "/subscriptions/confirm/" in html
    assert "15 år" in text  # REQ C-10: the age the consent is collected from
    assert events_of(app, "Kari.Nordmann@example.no") == []


def test_the_confirmation_mail_in_english_carries_no_advertising(client, smtp, sign_up, text_part):
    """REQ M-02: the mail names what was asked for and nothing else to sell."""
    sign_up(client, "ola@example.com", language="en",
            purposes={"newsletter": True, "marketing": True})
    message = smtp.messages[0]
    assert message["Subject"] == "Confirm your subscription"
    text = text_part(message)
    assert "Newsletter" in text and "Marketing" in text
    assert "you are at least 15" in text  # REQ C-10
    assert "Privacy notice" in text
    assert "http" not in text.replace("https://consent.example/", "")  # no other links


def test_a_sign_up_in_nynorsk_gets_its_mails_and_pages_in_nynorsk(client, smtp, sign_up, link,
                                                                 text_part, html_part):
    """REQ N-08: a person who signed up in nynorsk gets the confirmation mail, the confirm and
    confirmed pages, the access mail and their own page in nynorsk."""
    assert sign_up(client, "Kari@example.no", language="nn").status_code == 202
    message = smtp.messages[0]
    assert message["Subject"] == "Stadfest påmeldinga di"
    text, html = text_part(message), html_part(message)
    for words in ("Hei,", "Nyheitsbrev", "Ved å stadfeste erklærer du at du har fylt 15 år.",
                  "Vi sender deg ingenting før du har stadfesta."):
        assert words in text, words
    assert '<html lang="nn">' in html and "Nyheitsbrev" in html
    page = client.get(link(message, "confirm"))
    assert page.headers["Content-Language"] == "nn"
    assert '<html lang="nn">' in page.get_data(as_text=True)
    done = client.post(link(message, "confirm")).get_data(as_text=True)
    assert "Takk! Påmeldinga di er stadfesta." in done and "Nyheitsbrev" in done

    client.post("/api/v1/subscriptions/access", json={"email": "kari@example.no"})
    access = smtp.messages[-1]
    assert access["Subject"] == "Påmeldingane og samtykka dine"
    assert "kva for påmeldingar og samtykke" in text_part(access)
    own = client.get(link(access, "me")).get_data(as_text=True)
    assert '<html lang="nn">' in own
    for words in ("Påmeldingane og samtykka dine", "Historikken din", "Du melde deg på",
                  "E-postadresse:", "Slett adressa mi"):
        assert words in own, words
    assert not re.search(r"\b(ikke|hva|fra|Nyhetsbrev)\b", own)


def test_confirm_page_records_nothing_and_the_post_records_the_grant(client, app, smtp, link,
                                                                     sign_up):
    """REQ M-08 M-02: GET shows one button and no script at all (scanners run scripts); the
    POST records the grant with source confirm."""
    sign_up(client, "kari@example.no", consent_id="device-123")
    path = link(smtp.messages[0], "confirm")
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<button") == 1 and "<script" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "15 år" in html  # REQ C-10
    assert client.get(path).status_code == 200  # a link scanner's second fetch: still nothing
    assert events_of(app, "kari@example.no") == []
    assert client.get("/subscriptions/autosubmit.js").status_code == 404  # gone for good

    done = client.post(path, environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert done.status_code == 200
    assert "Nyhetsbrev" in done.get_data(as_text=True)
    assert events_of(app, "kari@example.no") == [
        ("grant", "confirm", {"marketing": False, "newsletter": True}, "person", "203.0.113.0")]
    with app.app_context():
        person = db.session.execute(select(Person)).scalar_one()
        assert person.pending is None and person.confirm_nonce is None
        assert person.consent_id == "device-123"
        assert person.signup_ip == "127.0.0.0"  # truncated (L-04)
        state = ledger.state(db.session, person.subject)
        assert state.policy_version == "1" and state.text_hash


def test_a_confirmation_link_works_once(client, app, smtp, link, sign_up):
    """REQ M-02: single use: a replayed link is refused (GET and POST) and appends nothing."""
    sign_up(client, "kari@example.no")
    path = link(smtp.messages[0], "confirm")
    assert client.post(path).status_code == 200
    again = client.post(path)
    assert again.status_code == 410
    assert "allerede brukt" in again.get_data(as_text=True)
    assert client.get(path).status_code == 410
    assert len(events_of(app, "kari@example.no")) == 1


def test_forged_and_expired_confirmation_links_are_refused(client, app, smtp, config, link,
                                                           sign_up):
    """REQ M-02: signed and expiring; neither forged nor expired links record anything."""
    sign_up(client, "kari@example.no")
    path = link(smtp.messages[0], "confirm")
    token = path.rsplit("/", 1)[1]
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.post(forged).status_code == 404
    assert client.get(forged).status_code == 404
    with app.app_context():
        payload = links.load(links.CONFIRM, token)
        other_key = URLSafeTimedSerializer("another-secret", salt=links.CONFIRM).dumps(payload)
        unsubscribe_kind = links.sign(links.UNSUBSCRIBE, payload)
    assert client.post(f"/subscriptions/confirm/{other_key}").status_code == 404
    assert client.post(f"/subscriptions/confirm/{unsubscribe_kind}").status_code == 404
    config["CONFIRM_MAX_AGE_HOURS"] = -1  # every token is now past its age
    expired = client.post(path)
    assert expired.status_code == 410
    assert "utløpt" in expired.get_data(as_text=True)
    assert events_of(app, "kari@example.no") == []


def test_signing_up_again_mails_at_most_once_per_resend_period_and_answers_alike(
        client, app, smtp, config, link, sign_up):
    """No address enumeration: a known address gets the same answer; one mail per period."""
    first = sign_up(client, "kari@example.no")
    second = sign_up(client, "kari@example.no", purposes={"marketing": True})
    assert (first.status_code, first.get_json()) == (second.status_code, second.get_json())
    assert len(smtp.messages) == 1
    config["CONFIRM_RESEND_MINUTES"] = 0
    sign_up(client, "kari@example.no")
    assert len(smtp.messages) == 2
    # The first mail's link still works, and confirms both purposes asked for.
    assert client.post(link(smtp.messages[0], "confirm")).status_code == 200
    assert events_of(app, "kari@example.no")[-1][2] == {"marketing": True, "newsletter": True}


def test_a_confirmed_subscriber_signing_up_again_gets_the_same_answer(client, smtp, link, sign_up):
    sign_up(client, "kari@example.no")
    client.post(link(smtp.messages[0], "confirm"))
    again = sign_up(client, "kari@example.no")
    assert again.status_code == 202 and again.get_json() == {"status": "pending"}


def test_without_double_opt_in_the_sign_up_is_active_at_once(app_factory, smtp, mail_settings,
                                                             sign_up):
    app = app_factory(DOUBLE_OPT_IN=False, **mail_settings)
    response = sign_up(app.test_client(), "kari@example.no")
    assert response.status_code == 201 and response.get_json()["status"] == "active"
    assert smtp.messages == []
    assert events_of(app, "kari@example.no")[0][:2] == ("grant", "signup")


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-address"}, "email"),
    ({"email": "a@b..no"}, "email"),
    ({"email": ""}, "email"),
    ({"email": 42}, "email"),
    ({"purposes": {"newsletter": False}}, "purposes"),
    ({"purposes": {"analytics": True}}, "purposes"),
    ({"purposes": {}}, "purposes"),
    ({"language": "de"}, "language"),
    ({"policy_version": "99"}, "policy_version"),
    ({"extra": 1}, "extra"),
])


def test_bad_sign_ups_are_problem_json_and_send_nothing(client, smtp, body, field, signup):
    response = client.post("/api/v1/subscriptions",
                            json={**signup, "email": "kari@example.no", **body})
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert smtp.messages == []


def test_sign_up_is_public_with_cors_and_a_16_kib_cap(client, smtp, signup):
    ok = client.post("/api/v1/subscriptions", json={**signup, "email": "kari@example.no"},
                      headers={"Origin": "https://shop.example"})
    assert ok.status_code == 202
    assert ok.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    other = client.post("/api/v1/subscriptions", json={**signup, "email": "ola@example.no"},
                         headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    big = client.post("/api/v1/subscriptions",
                       json={**signup, "email": "kari@example.no", "consent_id": "x" * 17000})
    assert big.status_code == 413 and big.mimetype == "application/problem+json"
    assert client.post("/api/v1/subscriptions", data="{", content_type="application/json"
                        ).status_code == 400


def test_a_mail_failure_leaves_the_sign_up_pending_and_send_pending_retries(
        client, runner, config, smtp, caplog, free_port, sign_up):
    """Nothing is lost: the SMTP server is down at sign-up, send-pending delivers later; the
    log names no address."""
    config["SMTP_PORT"] = free_port()  # nothing listens there
    response = sign_up(client, "kari@example.no")
    assert response.status_code == 202 and response.get_json() == {"status": "pending"}
    assert smtp.messages == []
    assert "kari" not in caplog.text and "not sent" in caplog.text
    with client.application.app_context():
        assert db.session.execute(select(Person.mail_due)).scalar_one() is True
    config["SMTP_PORT"] = smtp.port
    result = runner.invoke(args=["consent", "send-pending"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "kari@example.no"
    result = runner.invoke(args=["consent", "send-pending"])
    assert "sent 0" in result.output and len(smtp.messages) == 1


def test_without_smtp_mails_go_to_the_outbox(app_factory, tmp_path, sign_up):
    app = app_factory(MAIL_OUTBOX=str(tmp_path / "outbox"), SMTP_HOST=None)
    assert sign_up(app.test_client(), "kari@example.no").status_code == 202
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert b"kari@example.no" in files[0].read_bytes()


def test_rotating_the_secret_key_loses_no_subject(client, smtp, app_factory, mail_settings,
                                                  api_key, check, link, sign_up):
    """The subject is keyed by CONSENT_EMAIL_HASH_KEY alone."""
    sign_up(client, "kari@example.no")
    client.post(link(smtp.messages[0], "confirm"))
    rotated = app_factory(**mail_settings, SECRET_KEY="new-secret")
    assert check(rotated.test_client(), api_key(), "newsletter", ["kari@example.no"]) == [
        ("allowed", "consent")]
