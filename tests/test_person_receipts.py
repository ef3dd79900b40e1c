"""Receipts of the person-side writes (L-08): a sign-up without double opt-in, the confirmation,
an unsubscribe, every event in the person's JSON download, and a device's erasure."""
import json
import re

import jwt
import pytest

from consent_server.extensions import db
from consent_server.people.addresses import subject_hash
from consent_server.staff import keys

RECEIPT = re.compile(r'<textarea id="receipt"[^>]*>([\w.\-]+)</textarea>')


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


def verified(client, auditor: dict, receipt: str) -> dict:
    """The receipt's claims, after the server found it genuine and in the ledger."""
    check = client.post("/api/v1/audit/receipts/verify", json={"receipt": receipt},
                        headers=auditor).get_json()
    assert check["valid"] is True and check["in_ledger"] is True, check
    return check["claims"]


def on_page(response) -> str | None:
    found = RECEIPT.search(response.get_data(as_text=True))
    return found.group(1) if found else None


def test_a_sign_up_without_double_opt_in_answers_with_a_receipt(app_factory, mail_settings,
                                                                sign_up):
    """REQ L-08: the 201 answer carries a receipt of the grant; its subject is the keyed hash
    of the address, never the address."""
    app = app_factory(DOUBLE_OPT_IN=False, **mail_settings)
    client = app.test_client()
    with app.app_context():
        _key, secret = keys.create_key(db.session, "auditor", "auditor")
        person = subject_hash(app.config["EMAIL_HASH_KEY"], "kari@example.no")
    body = sign_up(client, "kari@example.no").get_json()
    assert body["status"] == "active"
    claims = verified(client, {"Authorization": f"Bearer {secret}"}, body["receipt"])
    assert claims["sub"] == person and "kari" not in body["receipt"]
    assert (claims["action"], claims["choices"], claims["policy_version"]) == (
        "grant", {"marketing": False, "newsletter": True}, "1")
    assert claims["iss"] == app.config["PUBLIC_URL"]


def test_pending_sign_ups_record_nothing_and_carry_no_receipt(client, smtp, sign_up):
    assert sign_up(client, "kari@example.no").get_json() == {"status": "pending"}


def test_the_confirmation_page_shows_the_receipt_of_the_grant(client, smtp, api_key, link, sign_up):
    """REQ L-08 M-02: the POST of the confirmation link records the grant and shows its
    receipt, which checks out against the key and the ledger; the GET shows none."""
    sign_up(client, "kari@example.no", purposes={"newsletter": True, "marketing": True})
    path = link(smtp.messages[-1], "confirm")
    assert on_page(client.get(path)) is None
    page = client.post(path)
    assert page.status_code == 200 and "Kvitteringen din" in page.get_data(as_text=True)
    claims = verified(client, api_key("auditor"), on_page(page))
    assert (claims["action"], claims["choices"]) == (
        "grant", {"marketing": True, "newsletter": True})


def test_an_unsubscribe_shows_the_receipt_of_the_withdrawal_once(client, smtp, api_key, audience,
                                                                 config, confirmed):
    """REQ L-08 M-03: the withdrawal's receipt; a second POST records nothing, so it has none."""
    confirmed(client, smtp, "kari@example.no")
    path = audience(client, api_key())[0]["unsubscribe_url"].removeprefix(config["PUBLIC_URL"])
    first = client.post(path, data={"List-Unsubscribe": "One-Click"})
    claims = verified(client, api_key("auditor"), on_page(first))
    assert (claims["action"], claims["choices"]["newsletter"]) == ("withdraw", False)
    assert on_page(client.post(path, data={"List-Unsubscribe": "One-Click"})) is None
    everything = client.post(path, data={"everything": "1"})
    assert on_page(everything) is not None  # marketing's objection is noted: an event


def test_every_event_of_the_json_download_carries_its_receipt(client, smtp, api_key, access_link,
                                                              confirmed):
    """REQ R-01 L-08: the person's download proves itself: each event's receipt names it."""
    confirmed(client, smtp, "kari@example.no")
    path = access_link(client, smtp, "kari@example.no")
    client.post(path, data={"marketing": "on"})  # newsletter off, marketing on: two events
    body = json.loads(client.get(path + "/history.json").data)
    assert len(body["events"]) == 3
    auditor = api_key("auditor")
    for event in body["events"]:
        claims = verified(client, auditor, event["receipt"])
        assert (claims["jti"], claims["seq"], claims["hash"], claims["sub"]) == (
            event["event_id"], event["seq"], event["hash"], body["subject"])


def test_the_erasure_of_a_device_answers_with_the_receipt_of_its_erase_event(
        app, client, api_key, choice):
    """REQ L-08 R-02: DELETE is a consent answer too."""
    consent_id = client.post("/api/v1/consents", json=choice).get_json()["consent_id"]
    erased = client.delete(f"/api/v1/consents/{consent_id}").get_json()
    claims = verified(client, api_key("auditor"), erased["receipt"])
    assert (claims["sub"], claims["action"], claims["hash"]) == (
        consent_id, "erase", erased["hash"])
    key = app.extensions["consent_signing_key"]
    assert jwt.decode(erased["receipt"], key.public, algorithms=["EdDSA"])["seq"] == 2
