"""Sign-up with double opt-in through a real SMTP server, the confirmation page and its POST."""
import json

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from consent_server import ledger

from consent_server.people import links
from consent_server.people.addresses import subject_hash
from consent_server.extensions import db
from consent_server.models import ConsentEvent, Person
from people_fixtures import (SIGNUP, api_key, check, html_part, link, pclient,  # noqa: F401
                             papp, sign_up, smtp, text_part)


def events_of(app, address: str):
    with app.app_context():
        subject = subject_hash(app.config["EMAIL_HASH_KEY"], address)
        rows = db.session.execute(select(ConsentEvent).where(ConsentEvent.subject == subject)
                                  .order_by(ConsentEvent.seq)).scalars().all()
        return [(e.action, e.source, json.loads(e.choices), e.subject_type, e.ip) for e in rows]


def test_sign_up_is_pending_and_mails_a_confirmation_in_norwegian(pclient, papp, smtp):
    """REQ M-02: 202 pending, a multipart mail in bokmål, nothing in the ledger yet."""
    response = sign_up(pclient, " Kari.Nordmann@Example.NO ")
    assert response.status_code == 202
    assert response.get_json() == {"status": "pending"}
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "Kari.Nordmann@example.no"  # REQ M-05
    assert smtp.envelopes[0].rcpt_tos == ["Kari.Nordmann@example.no"]
    assert message["Subject"] == "Bekreft abonnementet ditt"
    assert message.get_content_type() == "multipart/alternative"
    text, html = text_part(message), html_part(message)
    assert "Nyhetsbrev" in text and "Nyhetsbrev" in html
    assert "/subscriptions/confirm/" in text and "/subscriptions/confirm/" in html
    assert "15 år" in text  # REQ C-10: the age the consent is collected from
    assert events_of(papp, "Kari.Nordmann@example.no") == []


def test_the_confirmation_mail_in_english_carries_no_advertising(pclient, smtp):
    """REQ M-02: the mail names what was asked for and nothing else to sell."""
    sign_up(pclient, "ola@example.com", language="en",
            purposes={"newsletter": True, "marketing": True})
    message = smtp.messages[0]
    assert message["Subject"] == "Confirm your subscription"
    text = text_part(message)
    assert "Newsletter" in text and "Marketing" in text
    assert "15 years or older" in text  # REQ C-10
    assert "Privacy notice" in text
    assert "http" not in text.replace("https://consent.example/", "")  # no other links


def test_confirm_page_records_nothing_and_the_post_records_the_grant(pclient, papp, smtp):
    """REQ M-08 M-02: GET shows one button that submits itself from a script file; the POST
    records the grant with source confirm."""
    sign_up(pclient, "kari@example.no", consent_id="device-123")
    path = link(smtp.messages[0], "confirm")
    page = pclient.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<button") == 1 and "data-autosubmit" in html
    assert '<script src="/subscriptions/autosubmit.js"' in html
    assert "<script>" not in html  # no inline script: the CSP forbids it
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "15 år" in html  # REQ C-10
    assert pclient.get(path).status_code == 200  # a link scanner's second fetch: still nothing
    assert events_of(papp, "kari@example.no") == []
    script = pclient.get("/subscriptions/autosubmit.js")
    assert script.status_code == 200 and b"submit()" in script.data

    done = pclient.post(path, environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert done.status_code == 200
    assert "Nyhetsbrev" in done.get_data(as_text=True)
    assert events_of(papp, "kari@example.no") == [
        ("grant", "confirm", {"marketing": False, "newsletter": True}, "person", "203.0.113.0")]
    with papp.app_context():
        person = db.session.execute(select(Person)).scalar_one()
        assert person.pending is None and person.confirm_nonce is None
        assert person.consent_id == "device-123"
        assert person.signup_ip == "127.0.0.0"  # truncated (L-04)
        state = ledger.state(db.session, person.subject)
        assert state.policy_version == "1" and state.text_hash


def test_a_confirmation_link_works_once(pclient, papp, smtp):
    """REQ M-02: single use: a replayed link is refused (GET and POST) and appends nothing."""
    sign_up(pclient, "kari@example.no")
    path = link(smtp.messages[0], "confirm")
    assert pclient.post(path).status_code == 200
    again = pclient.post(path)
    assert again.status_code == 410
    assert "allerede brukt" in again.get_data(as_text=True)
    assert pclient.get(path).status_code == 410
    assert len(events_of(papp, "kari@example.no")) == 1


def test_forged_and_expired_confirmation_links_are_refused(pclient, papp, smtp):
    """REQ M-02: signed and expiring; neither forged nor expired links record anything."""
    sign_up(pclient, "kari@example.no")
    path = link(smtp.messages[0], "confirm")
    token = path.rsplit("/", 1)[1]
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert pclient.post(forged).status_code == 404
    assert pclient.get(forged).status_code == 404
    with papp.app_context():
        payload = links.load(links.CONFIRM, token)
        other_key = URLSafeTimedSerializer("another-secret", salt=links.CONFIRM).dumps(payload)
        unsubscribe_kind = links.sign(links.UNSUBSCRIBE, payload)
    assert pclient.post(f"/subscriptions/confirm/{other_key}").status_code == 404
    assert pclient.post(f"/subscriptions/confirm/{unsubscribe_kind}").status_code == 404
    papp.config["CONFIRM_MAX_AGE_HOURS"] = -1  # every token is now past its age
    expired = pclient.post(path)
    assert expired.status_code == 410
    assert "utløpt" in expired.get_data(as_text=True)
    assert events_of(papp, "kari@example.no") == []


def test_signing_up_again_mails_at_most_once_per_resend_period_and_answers_alike(
        pclient, papp, smtp):
    """No address enumeration: a known address gets the same answer; one mail per period."""
    first = sign_up(pclient, "kari@example.no")
    second = sign_up(pclient, "kari@example.no", purposes={"marketing": True})
    assert (first.status_code, first.get_json()) == (second.status_code, second.get_json())
    assert len(smtp.messages) == 1
    papp.config["CONFIRM_RESEND_MINUTES"] = 0
    sign_up(pclient, "kari@example.no")
    assert len(smtp.messages) == 2
    # The first mail's link still works, and confirms both purposes asked for.
    assert pclient.post(link(smtp.messages[0], "confirm")).status_code == 200
    assert events_of(papp, "kari@example.no")[-1][2] == {"marketing": True, "newsletter": True}


def test_a_confirmed_subscriber_signing_up_again_gets_the_same_answer(pclient, smtp):
    sign_up(pclient, "kari@example.no")
    pclient.post(link(smtp.messages[0], "confirm"))
    again = sign_up(pclient, "kari@example.no")
    assert again.status_code == 202 and again.get_json() == {"status": "pending"}


def test_without_double_opt_in_the_sign_up_is_active_at_once(app_factory, smtp):
    from conftest import empty_and_close, publish
    from people_fixtures import mail_settings

    app = app_factory(DOUBLE_OPT_IN=False, **mail_settings(smtp.port))
    publish(app)
    try:
        response = sign_up(app.test_client(), "kari@example.no")
        assert response.status_code == 201 and response.get_json()["status"] == "active"
        assert smtp.messages == []
        assert events_of(app, "kari@example.no")[0][:2] == ("grant", "signup")
    finally:
        empty_and_close(app)


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
def test_bad_sign_ups_are_problem_json_and_send_nothing(pclient, smtp, body, field):
    response = pclient.post("/api/v1/subscriptions",
                            json={**SIGNUP, "email": "kari@example.no", **body})
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert smtp.messages == []


def test_sign_up_is_public_with_cors_and_a_16_kib_cap(pclient, smtp):
    ok = pclient.post("/api/v1/subscriptions", json={**SIGNUP, "email": "kari@example.no"},
                      headers={"Origin": "https://shop.example"})
    assert ok.status_code == 202
    assert ok.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    other = pclient.post("/api/v1/subscriptions", json={**SIGNUP, "email": "ola@example.no"},
                         headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    big = pclient.post("/api/v1/subscriptions",
                       json={**SIGNUP, "email": "kari@example.no", "consent_id": "x" * 17000})
    assert big.status_code == 413 and big.mimetype == "application/problem+json"
    assert pclient.post("/api/v1/subscriptions", data="{", content_type="application/json"
                        ).status_code == 400


def test_a_mail_failure_leaves_the_sign_up_pending_and_send_pending_retries(
        database_url, smtp, caplog):
    """Nothing is lost: the SMTP server is down at sign-up, send-pending delivers later; the
    log names no address."""
    from conftest import empty_and_close, make_app, publish
    from people_fixtures import free_port, mail_settings

    app = make_app(database_url, **{**mail_settings(smtp.port), "SMTP_PORT": free_port()})
    publish(app)
    try:
        response = sign_up(app.test_client(), "kari@example.no")
        assert response.status_code == 202 and response.get_json() == {"status": "pending"}
        assert smtp.messages == []
        assert "kari" not in caplog.text and "not sent" in caplog.text
        with app.app_context():
            assert db.session.execute(select(Person.mail_due)).scalar_one() is True
        app.config["SMTP_PORT"] = smtp.port
        result = app.test_cli_runner().invoke(args=["consent", "send-pending"])
        assert result.exit_code == 0, result.output
        assert "sent 1" in result.output
        assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "kari@example.no"
        result = app.test_cli_runner().invoke(args=["consent", "send-pending"])
        assert "sent 0" in result.output and len(smtp.messages) == 1
    finally:
        empty_and_close(app)


def test_without_smtp_mails_go_to_the_outbox(app_factory, tmp_path):
    from conftest import empty_and_close, publish

    app = app_factory(MAIL_OUTBOX=str(tmp_path / "outbox"), SMTP_HOST=None)
    publish(app)
    try:
        assert sign_up(app.test_client(), "kari@example.no").status_code == 202
        files = list((tmp_path / "outbox").glob("*.eml"))
        assert len(files) == 1
        assert b"kari@example.no" in files[0].read_bytes()
    finally:
        empty_and_close(app)


def test_rotating_the_secret_key_loses_no_subject(database_url, smtp):
    """The subject is keyed by CONSENT_EMAIL_HASH_KEY alone."""
    from conftest import empty_and_close, make_app, publish
    from people_fixtures import mail_settings

    app = make_app(database_url, **mail_settings(smtp.port))
    publish(app)
    try:
        client = app.test_client()
        sign_up(client, "kari@example.no")
        client.post(link(smtp.messages[0], "confirm"))
        with app.app_context():
            key = keys_create(app)
        rotated = make_app(database_url, **mail_settings(smtp.port), SECRET_KEY="new-secret")
        assert check(rotated.test_client(), key, "newsletter", ["kari@example.no"]) == [
            ("allowed", "consent")]
        with rotated.app_context():
            db.engine.dispose()
    finally:
        empty_and_close(app)


def keys_create(app):
    from consent_server.staff import keys

    _key, secret = keys.create_key(db.session, "k", "marketing")
    return {"Authorization": f"Bearer {secret}"}
