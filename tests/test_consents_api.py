"""The public consent API: POST, GET, events, DELETE, config, health, OpenAPI."""
import gzip
import json
import uuid

import pytest

from consent_server import ledger
from consent_server.extensions import db


def test_post_then_get_returns_what_was_stored(client, post_consent):
    """REQ C-07: the record names when, which choices, which notice version and language."""
    created = post_consent()
    assert created.status_code == 201
    body = created.json
    assert body["choices"] == {"necessary": True, "analytics": True, "marketing": False}
    assert body["policy_version"] == "1" and body["language"] == "nb"
    assert body["action"] == "grant"
    assert len(body["consent_id"]) == 22 and len(body["hash"]) == 64
    assert body["expires_at"] > body["recorded_at"]
    got = client.get(f"/api/v1/consents/{body['consent_id']}")
    assert got.status_code == 200
    for key in ("consent_id", "choices", "policy_version", "recorded_at", "expires_at",
                "event_id", "hash"):
        assert got.json[key] == body[key]


def test_consent_ids_are_random_and_distinct(post_consent):
    """REQ W-06: the device id is 128 random bits, never derived from the device."""
    ids = {post_consent().json["consent_id"] for _ in range(5)}
    assert len(ids) == 5


def test_second_post_appends_an_update_chained_to_the_first(client, post_consent):
    """REQ L-02: each event stores the previous event's hash."""
    first = post_consent().json
    second = post_consent(consent_id=first["consent_id"],
                          choices={"analytics": True, "marketing": True}).json
    assert second["consent_id"] == first["consent_id"]
    assert second["action"] == "update"
    events = client.get(f"/api/v1/consents/{first['consent_id']}/events").json["events"]
    assert [e["action"] for e in events] == ["grant", "update"]
    assert events[1]["prev_hash"] == events[0]["hash"] == first["hash"]
    assert events[1]["hash"] == second["hash"]
    assert events[1]["seq"] == events[0]["seq"] + 1


def test_turning_every_optional_purpose_off_is_a_withdrawal(post_consent):
    """REQ C-08: the withdrawal is recorded like a grant."""
    first = post_consent().json
    withdrawn = post_consent(consent_id=first["consent_id"],
                             choices={"analytics": False, "marketing": False}).json
    assert withdrawn["action"] == "withdraw"
    assert withdrawn["choices"] == {"necessary": True, "analytics": False, "marketing": False}


def test_unknown_consent_id_gets_a_new_one(post_consent):
    body = post_consent(consent_id="not-a-consent-we-know").json
    assert body["consent_id"] != "not-a-consent-we-know"
    assert body["action"] == "grant"


def test_same_event_id_twice_returns_the_first_answer_and_appends_nothing(app, client,
                                                                           post_consent):
    """REQ W-07: the server de-duplicates retries by event id."""
    event_id = str(uuid.uuid4())
    first = post_consent(event_id=event_id)
    again = post_consent(event_id=event_id)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert first.json["event_id"] == event_id
    with app.app_context():
        assert ledger.verify(db.session).events == 1


def test_an_event_id_of_another_consent_is_refused_not_answered(app, post_consent):
    """A retry is answered with the first answer only for the same device: an event id sent
    with another known consent id is a 422 and reveals nothing of the first consent."""
    event_id = str(uuid.uuid4())
    first = post_consent(event_id=event_id).json
    other = post_consent().json
    resp = post_consent(event_id=event_id, consent_id=other["consent_id"])
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert "event_id" in resp.json["errors"]
    assert first["consent_id"] not in resp.get_data(as_text=True)
    with app.app_context():
        assert ledger.verify(db.session).events == 2


def test_missing_purposes_are_off_and_gpc_is_recorded(client, post_consent):
    body = post_consent(choices={}, gpc=True, source="preferences").json
    assert body["choices"] == {"necessary": True, "analytics": False, "marketing": False}
    event = client.get(f"/api/v1/consents/{body['consent_id']}/events").json["events"][0]
    assert event["gpc"] is True and event["source"] == "preferences"


def test_json_sent_as_text_plain_is_accepted(client, choice):
    """The banner may send text/plain to avoid a CORS preflight."""
    resp = client.post("/api/v1/consents", data=json.dumps(choice), content_type="text/plain")
    assert resp.status_code == 201


@pytest.mark.parametrize("remote, stored", [
    ("203.0.113.77", "203.0.113.0"),
    ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
    ("::ffff:198.51.100.9", "198.51.100.0"),
])
def test_ip_is_truncated_before_it_is_stored(client, remote, stored, choice, stored_events):
    """REQ L-04: IPv4 to /24, IPv6 to /48; the full address is never stored."""
    resp = client.post("/api/v1/consents", json=choice, environ_base={"REMOTE_ADDR": remote})
    assert stored_events(resp.json["consent_id"])[0].ip == stored


def test_user_agent_is_cut_to_512_characters(client, choice, stored_events):
    """REQ L-04."""
    resp = client.post("/api/v1/consents", json=choice, headers={"User-Agent": "U" * 2000})
    assert stored_events(resp.json["consent_id"])[0].user_agent == "U" * 512


def test_delete_withdraws_everything_and_erases_personal_data(app, client, post_consent,
                                                              stored_events):
    consent_id = post_consent(choices={"analytics": True, "marketing": True}).json["consent_id"]
    post_consent(consent_id=consent_id)
    resp = client.delete(f"/api/v1/consents/{consent_id}")
    assert resp.status_code == 200
    assert resp.json["choices"] == {"necessary": True, "analytics": False, "marketing": False}
    assert resp.json["action"] == "erase" and resp.json["erased"] is True
    events = client.get(f"/api/v1/consents/{consent_id}/events").json["events"]
    assert [e["action"] for e in events] == ["grant", "update", "erase"]
    stored = stored_events(consent_id)
    assert all(e.ip is None and e.user_agent is None and e.pii_salt is None for e in stored)
    assert stored[0].ip_digest  # the digest stays: the chain still verifies
    with app.app_context():
        from consent_server.models import ConsentState

        state = db.session.get(ConsentState, consent_id)
        assert state.ip is None and state.user_agent is None
        assert ledger.verify(db.session).ok
    again = client.delete(f"/api/v1/consents/{consent_id}")
    assert again.status_code == 200 and again.json["event_id"] == resp.json["event_id"]


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/consents/unknown"),
    ("get", "/api/v1/consents/unknown/events"),
    ("delete", "/api/v1/consents/unknown"),
])
def test_unknown_consent_is_404_problem(client, method, path):
    resp = getattr(client, method)(path)
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"
    assert resp.json["status"] == 404 and resp.json["title"] == "Not Found"


@pytest.mark.parametrize("body, field", [
    ({"policy_version": "1", "language": "nb"}, "choices"),
    ({"choices": {}, "language": "nb"}, "policy_version"),
    ({"choices": {}, "policy_version": "1"}, "language"),
    ({"choices": {}, "policy_version": "1", "language": "de"}, "language"),
    ({"choices": {"analytics": "maybe"}, "policy_version": "1", "language": "nb"}, "choices"),
    ({"choices": {}, "policy_version": "1", "language": "nb", "source": "x"}, "source"),
    ({"choices": {}, "policy_version": "1", "language": "nb", "event_id": "no"}, "event_id"),
    ({"choices": {}, "policy_version": "", "language": "nb"}, "policy_version"),
    ({"choices": {}, "policy_version": "1", "language": "nb", "extra": 1}, "extra"),
    ({"choices": {"newsletter": True}, "policy_version": "1", "language": "nb"}, "choices"),
    ({"choices": {"spying": True}, "policy_version": "1", "language": "nb"}, "choices"),
    ({"choices": {"necessary": False}, "policy_version": "1", "language": "nb"}, "choices"),
])
def test_invalid_body_is_422_with_field_errors(app, client, body, field):
    """REQ S-04: validation errors are problem+json with per-field errors; nothing stored."""
    resp = client.post("/api/v1/consents", json=body)
    assert resp.status_code == 422
    assert resp.mimetype == "application/problem+json"
    assert field in resp.json["errors"]
    with app.app_context():
        assert ledger.verify(db.session).events == 0


@pytest.mark.parametrize("data", ["{not json", "\xff\xfe", "{\"choices\": }"])
def test_malformed_json_is_400(client, data):
    resp = client.post("/api/v1/consents", data=data, content_type="application/json")
    assert resp.status_code == 400
    assert resp.mimetype == "application/problem+json"
    assert "JSON" in resp.json["detail"]


@pytest.mark.parametrize("body", ["[]", "\"x\"", "1", "null", ""])
def test_json_that_is_not_an_object_is_422(client, body):
    resp = client.post("/api/v1/consents", data=body, content_type="application/json")
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"


def test_body_over_16_kib_is_413(app, client, choice):
    """REQ S-04: public bodies are capped at 16 KiB."""
    import json

    big = json.dumps({**choice, "policy_version": "1", "pad": "x" * 17000})
    resp = client.post("/api/v1/consents", data=big, content_type="application/json")
    assert resp.status_code == 413
    assert resp.mimetype == "application/problem+json"
    with app.app_context():
        assert ledger.verify(db.session).events == 0


@pytest.mark.parametrize("method, path", [
    ("put", "/api/v1/consents"), ("patch", "/api/v1/consents/x"), ("post", "/api/v1/config"),
    ("delete", "/healthz"),
])
def test_wrong_method_is_405_problem_with_allow(client, method, path):
    resp = getattr(client, method)(path)
    assert resp.status_code == 405
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["Allow"]


@pytest.mark.parametrize("path", ["/nothing", "/api/v1/nothing", "/api/v2/consents"])
def test_unknown_path_is_404_problem_not_html(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"
    assert b"<html" not in resp.data.lower()


def test_cors_allows_configured_origins_only(client):
    """REQ S-02: CORS only for CONSENT_ALLOWED_ORIGINS; no credentials."""
    ok = client.get("/api/v1/config", headers={"Origin": "https://shop.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Access-Control-Allow-Credentials" not in ok.headers
    other = client.get("/api/v1/config", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_preflight_for_an_allowed_origin(client):
    """REQ S-02."""
    resp = client.options("/api/v1/consents", headers={
        "Origin": "https://www.shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://www.shop.example"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "content-type" in resp.headers["Access-Control-Allow-Headers"].lower()
    denied = client.options("/api/v1/consents", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_writes_from_a_page_of_another_site_are_refused(app, client, choice):
    """REQ S-02: a browser page of a site not in CONSENT_ALLOWED_ORIGINS cannot record."""
    denied = client.post("/api/v1/consents", json=choice,
                         headers={"Origin": "https://evil.example"})
    assert denied.status_code == 403 and denied.mimetype == "application/problem+json"
    allowed = client.post("/api/v1/consents", json=choice,
                          headers={"Origin": "https://shop.example"})
    assert allowed.status_code == 201
    same_site = client.post("/api/v1/consents", json=choice,
                            headers={"Origin": app.config["PUBLIC_URL"]})
    assert same_site.status_code == 201  # the server's own pages (the demo, the notice)
    with app.app_context():
        assert ledger.verify(db.session).events == 2


def test_config_lists_purposes_cookie_and_consent_mode(client):
    body = client.get("/api/v1/config?lang=en").json
    assert body["language"] == "en" and body["languages"] == ["nb", "nn", "en"]
    assert [p["key"] for p in body["purposes"]] == ["necessary", "analytics", "marketing"]
    assert [p["required"] for p in body["purposes"]] == [True, False, False]
    assert all(p["name"] and p["description"] for p in body["purposes"])
    assert body["cookie"] == {"name": "consent", "max_age_days": 365, "domain": None}
    assert body["consent_mode"]["analytics"] == ["analytics_storage"]
    assert body["consent_mode"]["marketing"] == ["ad_storage", "ad_user_data",
                                                 "ad_personalization"]
    assert body["privacy_url"].endswith("/privacy/en")
    for key in ("title", "body", "accept_all", "reject_all", "settings", "save"):
        assert body["texts"][key]


def test_config_max_age_follows_the_setting(app, app_factory):
    app = app_factory(MAX_AGE_DAYS=180)
    assert app.test_client().get("/api/v1/config").json["cookie"]["max_age_days"] == 180


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_healthz_is_503_when_the_database_is_down(app_factory):
    down = app_factory(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    resp = down.test_client().get("/healthz")
    assert resp.status_code == 503 and resp.mimetype == "application/problem+json"


def test_openapi_document_lists_the_contract(client):
    spec = client.get("/openapi.json").json
    paths = spec["paths"]
    for path in ("/api/v1/consents", "/api/v1/consents/{consent_id}",
                 "/api/v1/consents/{consent_id}/events", "/api/v1/config", "/healthz",
                 "/api/v1/audit/verify"):
        assert path in paths, path
    assert set(paths["/api/v1/consents/{consent_id}"]) >= {"get", "delete"}


def test_config_is_gzipped_when_accepted_and_varies_by_origin(client, post_consent):
    """REQ W-12: the config, read on every first visit, travels gzipped; a shared cache keeps
    each site's CORS answer apart (Vary: Origin)."""
    plain = client.get("/api/v1/config?lang=nb")
    zipped = client.get("/api/v1/config?lang=nb", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.data)) == plain.json
    assert len(zipped.data) < len(plain.data) / 2
    for resp in (plain, zipped):
        assert {"Origin", "Accept-Language", "Accept-Encoding"} <= set(resp.vary)
    consent_id = post_consent().json["consent_id"]
    small = client.get(f"/api/v1/consents/{consent_id}", headers={"Accept-Encoding": "gzip"})
    assert small.status_code == 200 and "Content-Encoding" not in small.headers
