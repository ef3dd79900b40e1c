"""People's rights: the access link, the person's own page (history, download, change,
erase), and an admin's correction of an address."""
import json

import pytest
from sqlalchemy import select

from consent_server import ledger
from consent_server.extensions import db
from consent_server.models import ConsentEvent, CustomerBasis, Person
from consent_server.people.addresses import subject_hash


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


def test_access_always_answers_202_and_mails_only_a_known_address(client, smtp, confirmed):
    """REQ R-01: the answer never says whether an address is known."""
    confirmed(client, smtp, "kari@example.no")
    answers = [client.post("/api/v1/subscriptions/access", json={"email": address})
               for address in ("ukjent@example.no", "ikke-en-adresse", "kari@example.no")]
    assert {(a.status_code, a.get_data()) for a in answers} == {
        (202, answers[0].get_data())}
    assert len(smtp.messages) == 2  # the confirmation, then one access mail
    message = smtp.messages[-1]
    assert message["To"] == "kari@example.no"
    assert message["Subject"] == "Dine abonnementer og samtykker"
    assert message.get_body(("html",)) is not None
    bad = client.post("/api/v1/subscriptions/access", json={"email": "a@example.no", "x": 1})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_the_own_page_shows_the_history_and_downloads_it_as_json(client, app, smtp, access_link,
                                                                 confirmed):
    """REQ R-01: access and portability, proven by a signed link to the address."""
    confirmed(client, smtp, "kari@example.no")
    path = access_link(client, smtp, "kari@example.no")
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "kari@example.no" in html and "grant (confirm)" in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    download = client.get(path + "/history.json")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    body = json.loads(download.data)
    assert body["email"] == "kari@example.no"
    assert body["choices"] == {"marketing": False, "newsletter": True}
    [event] = body["events"]
    assert (event["action"], event["source"], event["policy_version"]) == (
        "grant", "confirm", "1")
    assert "ip" not in event and "user_agent" not in event
    assert client.get(path[:-2] + "zz").status_code == 404


def test_the_own_page_changes_each_purpose(client, smtp, api_key, access_link, check, confirmed):
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    path = access_link(client, smtp, "kari@example.no")
    saved = client.post(path, data={"marketing": "on"})
    assert saved.status_code == 200 and "lagret" in saved.get_data(as_text=True)
    html = saved.get_data(as_text=True)
    assert 'name="marketing" checked' in html and 'name="newsletter" checked' not in html
    assert check(client, key, "marketing", ["kari@example.no"]) == [("allowed", "consent")]
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "withdrawn")]
    client.post(path, data={})
    assert check(client, key, "marketing", ["kari@example.no"]) == [("denied", "objected")]


def test_erasure_clears_the_address_and_keeps_the_suppression_and_the_proof(
        client, app, smtp, api_key, access_link, check, config, confirmed):
    """REQ R-02: the address and personal fields go; the keyed hash stays, the chain verifies,
    the address stays suppressed, and the erasure is on record."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no", purposes={"newsletter": True, "marketing": True})
    client.post("/api/v1/marketing/customers", headers=key, json={"customers": [
        {"email": "kari@example.no", "sale_date": "2026-10-01", "opt_out_offered": True}]})
    path = access_link(client, smtp, "kari@example.no")
    erased = client.post(path + "/erase")
    assert erased.status_code == 200 and "slettet" in erased.get_data(as_text=True)
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "erased")]
    assert check(client, key, "marketing", ["kari@example.no"]) == [("denied", "erased")]
    assert client.get("/api/v1/marketing/audience?purpose=marketing", headers=key).data == b""
    with app.app_context():
        person = db.session.execute(select(Person)).scalar_one()
        assert person.email is None and person.signup_ip is None
        assert person.subject == subject_hash(config["EMAIL_HASH_KEY"], "kari@example.no")
        assert db.session.execute(select(CustomerBasis)).first() is None
        events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)
                                    ).scalars().all()
        assert events[-1].action == "erase"
        assert all(e.ip is None and e.user_agent is None for e in events)
        assert ledger.verify(db.session).ok
    # Nothing of the address is left in any table.
    with app.app_context():
        for table in (Person.__table__, ConsentEvent.__table__):
            for row in db.session.execute(select(table)):
                assert "kari@example.no" not in json.dumps([str(v) for v in row])
    assert client.post(path + "/erase").status_code == 200  # twice is harmless
    page = client.get(path)
    assert page.status_code == 200 and "kari@example.no" not in page.get_data(as_text=True)
    # No access mail to an erased address: it is no longer known.
    before = len(smtp.messages)
    assert client.post("/api/v1/subscriptions/access",
                        json={"email": "kari@example.no"}).status_code == 202
    assert len(smtp.messages) == before


def test_an_erased_address_can_sign_up_again_with_a_new_confirmation(client, smtp, api_key,
                                                                     access_link, check, config,
                                                                     confirmed, link, sign_up):
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    client.post(access_link(client, smtp, "kari@example.no") + "/erase")
    config["CONFIRM_RESEND_MINUTES"] = 0
    sign_up(client, "kari@example.no")
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "pending")]
    assert client.post(link(smtp.messages[-1], "confirm")).status_code == 200
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("allowed", "consent")]


def test_an_expired_access_link_is_refused(client, app, smtp, access_link, config, confirmed):
    confirmed(client, smtp, "kari@example.no")
    path = access_link(client, smtp, "kari@example.no")
    config["CONFIRM_MAX_AGE_HOURS"] = -1
    assert client.get(path).status_code == 410
    assert client.post(path + "/erase").status_code == 410


def test_an_admin_corrects_an_address_without_losing_its_history(client, app, smtp, api_key, check,
                                                                 confirmed):
    """REQ R-04: the same subject, its history and consent, under the corrected address."""
    admin, marketing = api_key("admin"), api_key("marketing")
    confirmed(client, smtp, "kari@exmaple.no")
    body = {"email": "kari@exmaple.no", "new_email": "kari@example.no"}
    assert client.post("/api/v1/marketing/rectify", headers=marketing,
                        json=body).status_code == 403
    assert client.post("/api/v1/marketing/rectify", json=body).status_code == 401
    response = client.post("/api/v1/marketing/rectify", headers=admin, json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email"] == "kari@example.no"
    assert check(client, marketing, "newsletter", ["kari@example.no", "kari@exmaple.no"]) == [
        ("allowed", "consent"), ("denied", "no_consent")]
    with app.app_context():
        events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)
                                    ).scalars().all()
        assert len({e.subject for e in events}) == 1 and len(events) == 2
    auditor = api_key("auditor")  # the auditor finds the history under the corrected address
    history = client.get("/api/v1/audit/subjects/kari@example.no", headers=auditor)
    assert history.status_code == 200 and len(history.get_json()["events"]) == 2
    exported = client.get("/api/v1/audit/events?subject=kari@example.no", headers=auditor)
    assert exported.status_code == 200 and len(exported.get_data(as_text=True).splitlines()) == 2
    unknown = client.post("/api/v1/marketing/rectify", headers=admin, json=body)
    assert unknown.status_code == 404
    confirmed(client, smtp, "ola@example.no")
    taken = client.post("/api/v1/marketing/rectify", headers=admin,
                         json={"email": "ola@example.no", "new_email": "kari@example.no"})
    assert taken.status_code == 409 and taken.mimetype == "application/problem+json"
    bad = client.post("/api/v1/marketing/rectify", headers=admin,
                       json={"email": "ola@example.no", "new_email": "nope"})
    assert bad.status_code == 422
