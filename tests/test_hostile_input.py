"""Hostile input on the public API: every one a 4xx problem, never a 500, and nothing stored."""
import io
import json
import uuid

import pytest

from consent_server import ledger
from consent_server.extensions import db

PROBLEM = "application/problem+json"


def _events(app) -> int:
    with app.app_context():
        return ledger.verify(db.session).events


def _post_raw(client, data: bytes, **kwargs):
    return client.post("/api/v1/consents", data=data, content_type="application/json", **kwargs)


@pytest.mark.parametrize("data", [
    b"[" * 8_000 + b"]" * 8_000,
    b'{"choices": ' + b'{"a": ' * 2_000 + b"true" + b"}" * 2_000 + b', "policy_version": "1"}',
    b'{"choices": {}, "policy_version": "1", "language": "nb", "gpc": 1' + b"0" * 5_000 + b"}",
    b'{"choices": {}, "policy_version": "1", "language": "nb\xff"}',
    b'{"choices": {}, "policy_version": "\\ud800", "language": "nb"}',
    b'{"choices": {}, "policy_version": "1", "language": "nb", "consent_id": "\\udfff"}',
    b'{"choices": {"\\ud83d": true}, "policy_version": "1", "language": "nb"}',
    b'{"choices": {}, "policy_version": "1", "language": "nb", "event_id": "\\ud800"}',
], ids=["deep-array", "deep-object", "huge-int", "bad-utf8", "surrogate-policy-version",
        "surrogate-consent-id", "surrogate-key", "surrogate-event-id"])
def test_hostile_json_is_a_400_problem_not_a_500(app, client, data):
    """REQ S-04: deep nesting, 4,300+ digit integers, bad UTF-8 and lone surrogates in any
    string are a 400 problem, not a stack trace."""
    resp = _post_raw(client, data)
    assert resp.status_code == 400, resp.data[:200]
    assert resp.mimetype == PROBLEM and "JSON" in resp.json["detail"]
    assert _events(app) == 0


@pytest.mark.parametrize("data", [b"[" * 200_000 + b"]" * 200_000,
                                  b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
                                  b"[" + b"9" * 100_000 + b"]", b'["\\udc80"]'])
def test_the_parser_refuses_them_under_a_larger_cap_too(app, data):
    """The marketing API's bodies may be 16 MiB: the parser itself refuses them with a 400."""
    from werkzeug.exceptions import BadRequest

    from consent_server.api import Parser

    with app.test_request_context("/", method="POST", data=data,
                                  content_type="application/json"):
        from flask import request

        with pytest.raises(BadRequest):
            Parser().load_json(request, None)


def test_a_consent_id_that_is_a_surrogate_in_the_path_is_a_404(client):
    """Percent-encoded bytes that are no UTF-8 in a path are not a 500."""
    for method in ("get", "delete"):
        resp = getattr(client, method)("/api/v1/consents/%ED%A0%80")
        assert resp.status_code == 404 and resp.mimetype == PROBLEM
    assert client.get("/api/v1/consents/%ED%A0%80/events").status_code == 404
    assert client.get("/api/v1/config?lang=%ED%A0%80").status_code == 200


@pytest.mark.parametrize("value", ["yes", "on", 1, "1", 1.0, 0, "true", "false", None, [], {}])
@pytest.mark.parametrize("field", ["gpc", "analytics"])
def test_only_json_true_and_false_are_booleans(app, client, field, value, choice):
    """A choice or gpc that is not JSON true/false is a 422 naming the field, not a guess."""
    body = {**choice, "choices": dict(choice["choices"])}
    if field == "gpc":
        body["gpc"] = value
    else:
        body["choices"]["analytics"] = value
    resp = client.post("/api/v1/consents", json=body)
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    errors = resp.json["errors"]
    assert field in (errors if field == "gpc" else errors["choices"])
    assert _events(app) == 0


def test_true_and_false_are_taken(client, choice):
    resp = client.post("/api/v1/consents", json={**choice, "gpc": True,
                                                 "choices": {"analytics": False}})
    assert resp.status_code == 201 and resp.json["choices"]["analytics"] is False


def _chunked(client, body: bytes, path="/api/v1/consents"):
    """A body without Content-Length, as a server that handles chunked encoding passes it."""
    return client.post(path, input_stream=io.BytesIO(body),
                       headers={"Content-Type": "application/json",
                                "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})


def test_the_body_cap_holds_for_chunked_bodies(app, client, choice):
    """REQ S-04: a body over 16 KiB is a 413 with or without Content-Length, even when what
    fits under the cap is valid JSON (it was accepted, cut, before)."""
    body = json.dumps(choice).encode() + b" " * (17 * 1024)
    assert _post_raw(client, body).status_code == 413
    resp = _chunked(client, body)
    assert resp.status_code == 413 and resp.mimetype == PROBLEM
    assert _events(app) == 0
    small = _chunked(client, json.dumps(choice).encode())
    assert small.status_code == 201


def test_an_erased_consent_id_is_spent(app, client, post_consent):
    """REQ R-02: after DELETE, a POST with that consent id starts a new device; nothing is
    appended to the erased one."""
    erased = post_consent().json["consent_id"]
    client.delete(f"/api/v1/consents/{erased}")
    resp = post_consent(consent_id=erased)
    assert resp.status_code == 201
    assert resp.json["consent_id"] != erased and resp.json["action"] == "grant"
    events = client.get(f"/api/v1/consents/{erased}/events").json["events"]
    assert [e["action"] for e in events] == ["grant", "erase"]


def test_an_id_erased_while_a_post_was_on_its_way_is_spent_too(app, client, post_consent,
                                                               monkeypatch):
    """REQ R-02: a POST that read the state before a DELETE committed (the race) is decided
    under the chain lock, where the erasure shows: it starts a new device, the erased id gets
    nothing after its erase event."""
    erased = post_consent().json["consent_id"]
    with app.app_context():
        before = ledger.state(db.session, erased)  # what the POST saw: not yet erased
        db.session.rollback()
    assert client.delete(f"/api/v1/consents/{erased}").status_code == 200
    read = ledger.state

    def stale(session, subject):
        return before if subject == erased else read(session, subject)

    monkeypatch.setattr(ledger, "state", stale)
    resp = post_consent(consent_id=erased, choices={"analytics": False, "marketing": True})
    assert resp.status_code == 201
    assert resp.json["consent_id"] != erased and resp.json["action"] == "grant"
    assert resp.json["choices"]["marketing"] is True
    events = client.get(f"/api/v1/consents/{erased}/events").json["events"]
    assert [e["action"] for e in events] == ["grant", "erase"]


def test_a_replay_with_another_body_is_a_422(app, post_consent):
    """Idempotency as Stripe's: the same event id with different choices (or any other field)
    is refused, not answered with the first answer."""
    event_id = str(uuid.uuid4())
    first = post_consent(event_id=event_id).json
    for change in ({"choices": {"analytics": False}}, {"language": "en"}, {"gpc": True},
                   {"source": "preferences"}):
        resp = post_consent(event_id=event_id, **change)
        assert resp.status_code == 422 and resp.mimetype == PROBLEM
        assert "event_id" in resp.json["errors"]
        assert first["consent_id"] not in resp.get_data(as_text=True)
    assert post_consent(event_id=event_id).json == first  # the true replay still answers
    assert _events(app) == 1


def test_an_event_id_of_another_device_never_hands_out_its_consent_id(app, client, post_consent,
                                                                      choice):
    """A first visit's event id, replayed from another device (no consent id, or an unknown
    one), does not answer with the first device's consent id."""
    event_id = str(uuid.uuid4())
    first = client.post("/api/v1/consents", json={**choice, "event_id": event_id},
                        headers={"User-Agent": "Phone/1"}).json
    attempts = [
        client.post("/api/v1/consents", json={**choice, "event_id": event_id},
                    headers={"User-Agent": "Other/2"}),
        client.post("/api/v1/consents", json={**choice, "event_id": event_id},
                    headers={"User-Agent": "Phone/1"}, environ_base={"REMOTE_ADDR": "10.9.8.7"}),
        client.post("/api/v1/consents", json={**choice, "event_id": event_id,
                                              "consent_id": "unknown-to-us"},
                    headers={"User-Agent": "Other/2"}),
    ]
    for resp in attempts:
        assert resp.status_code == 422 and resp.mimetype == PROBLEM
        assert first["consent_id"] not in resp.get_data(as_text=True)
    same = client.post("/api/v1/consents", json={**choice, "event_id": event_id},
                       headers={"User-Agent": "Phone/1"})
    assert same.status_code == 201 and same.json == first  # the device's own retry
    assert _events(app) == 1


def test_an_update_replay_must_name_its_consent(app, client, post_consent):
    """An update's event id, replayed without its consent id, is refused."""
    consent_id = post_consent().json["consent_id"]
    event_id = str(uuid.uuid4())
    update = post_consent(consent_id=consent_id, event_id=event_id).json
    assert post_consent(consent_id=consent_id, event_id=event_id).json == update
    resp = post_consent(event_id=event_id)
    assert resp.status_code == 422 and consent_id not in resp.get_data(as_text=True)


def test_a_grant_replayed_after_erasure_is_refused(app, client, post_consent):
    """Erasure blanks the network and user agent the replay check needs: the id stays spent."""
    event_id = str(uuid.uuid4())
    first = post_consent(event_id=event_id).json
    client.delete(f"/api/v1/consents/{first['consent_id']}")
    resp = post_consent(event_id=event_id)
    assert resp.status_code == 422 and first["consent_id"] not in resp.get_data(as_text=True)


def test_the_origin_check_ignores_host(app, client, choice):
    """REQ S-02: an Origin that matches the request's own Host is not thereby allowed; only
    CONSENT_PUBLIC_URL's origin and CONSENT_ALLOWED_ORIGINS are."""
    evil = {"Origin": "http://evil.example", "Host": "evil.example"}
    assert client.post("/api/v1/consents", json=choice, headers=evil).status_code == 403
    consent_id = client.post("/api/v1/consents", json=choice).json["consent_id"]
    resp = client.delete(f"/api/v1/consents/{consent_id}", headers=evil)
    assert resp.status_code == 403 and resp.mimetype == PROBLEM
    assert client.post("/api/v1/consents", json=choice,
                       headers={"Origin": "null"}).status_code == 403
    own = client.post("/api/v1/consents", json=choice,
                      headers={"Origin": "http://127.0.0.1:5000", "Host": "evil.example"})
    assert own.status_code == 201
    assert _events(app) == 2


@pytest.mark.parametrize("value", ["yes", 1, "true"])
def test_a_sign_up_takes_only_json_booleans_too(app, client, value):
    """The sign-up's purposes are choices too: only JSON true/false, else a 422 naming it."""
    resp = client.post("/api/v1/subscriptions", json={
        "email": "kari@example.no", "purposes": {"newsletter": value}, "language": "nb",
        "policy_version": "1"})
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    assert "newsletter" in resp.json["errors"]["purposes"]
