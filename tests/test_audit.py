"""Per-subject proof (C-07) and statistics for auditors."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from consent_server import ledger
from consent_server.consent import devices
from consent_server.extensions import db
from consent_server.models import ConsentEvent, utcnow
from consent_server.people import addresses


def test_a_subjects_history_shows_the_notice_at_each_event(app, client, auditor_key,
                                                           accept_json, record_device):
    """REQ C-07: when, which choices, under which notice version and text (hash and text)."""
    with app.app_context():
        a = record_device(choices={"analytics": True}, ip="192.0.2.1", user_agent="UA/1")
        record_device(consent_id=a["consent_id"], choices={"analytics": False}, language="en",
                      source="preferences")
        record_device(choices={"marketing": True})  # another device: not in the history
    resp = client.get(f"/api/v1/audit/subjects/{a['consent_id']}",
                      headers=[*auditor_key.items(), *accept_json])
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.json
    assert body["subject"] == a["consent_id"] and body["subject_type"] == "device"
    assert [e["action"] for e in body["events"]] == ["grant", "withdraw"]
    assert all(e["hash_ok"] for e in body["events"])
    assert body["events"][0]["ip"] == "192.0.2.0"  # the auditor sees what the ledger holds
    assert body["current"]["action"] == "withdraw"
    for event in body["events"]:
        notice = body["notices"][event["text_hash"]]
        assert notice["version"] == "1" and notice["language"] == event["language"]
        import hashlib
        assert hashlib.sha256(notice["text"].encode()).hexdigest() == event["text_hash"]
    assert {n["language"] for n in body["notices"].values()} == {"nb", "en"}


def test_a_subject_by_e_mail_address_and_errors(app, client, auditor_key):
    """An e-mail address is hashed before the look-up; an invalid one is a 422, an unknown
    subject a 404."""
    with app.app_context():
        person = addresses.subject_hash(app.config["EMAIL_HASH_KEY"], "ola@example.no")
        ledger.append(db.session, ledger.new_event(
            subject=person, subject_type="person", action="grant",
            choices={"newsletter": True, "marketing": False}, policy_version="1", language="nb",
            text_hash=None, source="confirm", basis="consent", details={"signup_at": "x"}))
    resp = client.get("/api/v1/audit/subjects/ola@EXAMPLE.no", headers=auditor_key)
    assert resp.status_code == 200 and resp.json["subject"] == person
    assert resp.json["events"][0]["basis"] == "consent"
    assert resp.json["events"][0]["details"] == {"signup_at": "x"}
    bad = client.get("/api/v1/audit/subjects/not@valid@x", headers=auditor_key)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    missing = client.get("/api/v1/audit/subjects/nobody", headers=auditor_key)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


@pytest.mark.parametrize("lang, heading", [("nb", "Samtykkehistorikk"), ("en", "Consent history")])
def test_the_printable_page(app, client, auditor_key, lang, heading, record_device):
    """REQ C-07: a printable HTML page with each event and the notice texts it was given under;
    a tampered event is marked."""
    with app.app_context():
        a = record_device(choices={"analytics": True})
        record_device(consent_id=a["consent_id"], choices={"analytics": True, "marketing": True})
        db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == 2)
                           .values(source="api"))
        db.session.commit()
    for kwargs in ({"query_string": {"format": "html", "lang": lang}},
                   {"headers": {"Accept": "text/html", "Accept-Language": lang}}):
        headers = {**auditor_key, **kwargs.pop("headers", {})}
        resp = client.get(f"/api/v1/audit/subjects/{a['consent_id']}", headers=headers, **kwargs)
        assert resp.status_code == 200 and resp.mimetype == "text/html"
        page = resp.get_data(as_text=True)
        assert f"<h1>{heading}</h1>" in page and f'<html lang="{lang}">' in page
        assert a["consent_id"] in page and page.count("<tr>\n    <td>") == 2
        assert "@media print" in page
        expected = "stemmer ikke med hendelsen" if lang == "nb" else "does not match the event"
        assert expected in page
        assert "EXENTRI" in page  # the notice text itself
        with app.app_context():  # every hash whole, as printed proof needs (not cut short)
            for event in db.session.execute(select(ConsentEvent)).scalars():
                assert f'<code class="hash">{event.hash}</code>' in page
                assert f'<code class="hash">{event.text_hash}</code>' in page


def test_stats_per_day_and_purpose_in_sql(app, client, auditor_key, record_device):
    """Grants, refusals and withdrawals per purpose and day; accept all / reject all / per
    purpose shares; since/until honoured."""
    with app.app_context():
        a = record_device(choices={"analytics": True, "marketing": True})      # accept all
        record_device(choices={"analytics": False, "marketing": False})        # reject all
        record_device(choices={"analytics": True, "marketing": False})         # per purpose
        record_device(consent_id=a["consent_id"], choices={"analytics": False, "marketing": True})
        devices.erase(db.session, a["consent_id"], 365)
    today = utcnow().date().isoformat()
    body = client.get("/api/v1/audit/stats", headers=auditor_key).json
    rows = {(r["day"], r["purpose"]): r for r in body["purposes"]}
    assert rows[(today, "analytics")] == {"day": today, "purpose": "analytics", "granted": 2,
                                          "refused": 1, "withdrawn": 1}
    # marketing: granted by a, refused by two, kept on by a's update, withdrawn by the erasure
    assert rows[(today, "marketing")] == {"day": today, "purpose": "marketing", "granted": 1,
                                          "refused": 2, "withdrawn": 1}
    (day,) = body["days"]
    kinds = (day["choices"], day["accept_all"], day["reject_all"], day["per_purpose"])
    assert kinds == (4, 1, 1, 2)
    assert day["share"] == {"accept_all": 0.25, "reject_all": 0.25, "per_purpose": 0.5}
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    empty = client.get(f"/api/v1/audit/stats?since={tomorrow}", headers=auditor_key).json
    assert empty["purposes"] == [] and empty["days"] == []
    until = client.get(f"/api/v1/audit/stats?until={tomorrow}", headers=auditor_key)
    assert until.json["days"] == [day]
    assert client.get("/api/v1/audit/stats?since=soon", headers=auditor_key).status_code == 422
