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


# ---- NUL, lone surrogates and extreme dates anywhere (issue 19, item 7) ------------------------

def _problem(resp, *statuses):
    assert resp.status_code in statuses, (resp.status_code, resp.data[:300])
    assert resp.mimetype == PROBLEM
    return resp


@pytest.mark.parametrize("method, url", [
    ("get", "/api/v1/consents/a%00b"), ("delete", "/api/v1/consents/a%00b"),
    ("get", "/api/v1/consents/a%00b/events"), ("get", "/api/v1/config?lang=nb%00"),
    ("get", "/api/v1/policy?lang%00=nb"), ("get", "/subscriptions/me/a%00b"),
    ("post", "/unsubscribe/a%00b"), ("get", "/api/v1/audit/subjects/a%00b")])
def test_a_nul_in_a_path_or_query_string_is_a_400(client, method, url):
    """REQ S-04: a NUL (which PostgreSQL refuses in text) in a path parameter or a query
    argument's name or value is refused before any view, the same on every database."""
    resp = getattr(client, method)(url)
    assert resp.status_code == 400, (url, resp.status_code)
    if url.startswith("/api/"):
        _problem(resp, 400)


@pytest.mark.parametrize("fields", [{"consent_id": "a\u0000b"}, {"policy_version": "1\u0000"},
                                    {"event_id": "\u0000"}, {"source": "banner\u0000"},
                                    {"choices": {"analytics\u0000": True}}])
def test_a_nul_in_a_json_string_is_a_400(app, client, choice, fields):
    """REQ S-04: a \\u0000 escape in any string of a public body, keys too: 400, nothing kept."""
    _problem(client.post("/api/v1/consents", json={**choice, **fields}), 400)
    assert _events(app) == 0


def test_a_nul_in_a_sign_up_or_access_request_is_a_400(app, client, signup):
    for url, body in (("/api/v1/subscriptions", {**signup, "email": "kari\u0000@example.no"}),
                      ("/api/v1/subscriptions/access", {"email": "kari@example.no\u0000"})):
        _problem(client.post(url, json=body), 400)


@pytest.mark.parametrize("value", ["tv\u0000", "\ud800tv"])
def test_nul_and_surrogates_in_the_marketing_bodies_are_refused(client, api_key, value):
    """REQ S-04: the marketing API reads its JSON itself: a NUL or a lone surrogate in the
    check's or the customers' product_category is a 422 problem; in a CSV cell or a CSV's
    query string too."""
    key = api_key("marketing")
    _problem(client.post("/api/v1/marketing/check", headers=key, json={
        "purpose": "marketing", "emails": ["kari@example.no"], "product_category": value}), 422)
    _problem(client.post("/api/v1/marketing/customers", headers=key, json={"customers": [{
        "email": "kari@example.no", "sale_date": "2026-11-01", "product_category": value,
        "opt_out_offered": True}]}), 422)
    _problem(client.post("/api/v1/marketing/check?purpose=newsletter", headers=key,
                         data="email,name\r\nkari@example.no,Kari\x00\r\n",
                         content_type="text/csv"), 422)
    _problem(client.post("/api/v1/marketing/check?purpose=marketing&product_category=tv%00",
                         headers=key, data="email\r\nkari@example.no\r\n",
                         content_type="text/csv"), 400)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                                  "1969-12-31T23:59:59Z", "10000-01-01"])
@pytest.mark.parametrize("url", ["/api/v1/audit/events", "/api/v1/audit/stats"])
def test_dates_outside_1970_to_9999_are_a_422(client, auditor_key, url, when):
    """REQ S-04: an instant outside the years 1970 to 9999 once in UTC is a 422 problem, not
    an OverflowError."""
    for name in ("since", "until"):
        resp = _problem(client.get(url, query_string={name: when}, headers=auditor_key), 422)
        assert name in json.dumps(resp.json.get("errors", {}))
    assert client.get(url, query_string={"since": "9999-12-31T00:00:00Z"},
                      headers=auditor_key).status_code == 200


def test_a_nul_in_the_audit_subject_filter_is_a_400(client, auditor_key):
    """REQ S-04: `events?subject=` with a NUL: a 400 problem, not a 200 with a cut body."""
    resp = client.get("/api/v1/audit/events?subject=kari%00@example.no", headers=auditor_key)
    _problem(resp, 400)


@pytest.mark.parametrize("url, fields", [
    ("/console/marketing/lookup", {"email": "kari\x00@example.no"}),
    ("/console/audit/subject", {"subject": "abc\x00"}),
    ("/console/audit/export", {"since": "2026-01-01", "format": "csv", "purpose": "\x00"}),
    ("/console/admin/keys", {"name": "ci\x00", "role": "auditor"}),
    ("/console/admin/users", {"email": "new\x00@example.no", "role": "auditor"})])
def test_a_nul_in_a_console_form_is_a_400_page(app, staff, csrf_token, url, fields):
    """REQ S-04: the console's forms with a NUL in a field: its 400 page, nothing stored."""
    admin = staff("admin")
    resp = admin.post(url, data={**fields, "csrf_token": csrf_token(admin, "/console/")})
    assert resp.status_code == 400 and resp.mimetype == "text/html"


@pytest.mark.parametrize("since, until", [("0001-01-01", ""), ("", "9999-12-31"),
                                          ("1969-12-31", "1970-01-02")])
def test_console_dates_outside_1970_to_9999_are_a_422_page(staff, csrf_token, since, until):
    """REQ S-04: the charts' and the export's dates: a 422 page with the field's error."""
    auditor = staff("auditor")
    resp = auditor.get("/console/audit/charts", query_string={"since": since, "until": until})
    assert resp.status_code == 422 and "1970" in resp.get_data(as_text=True)
    resp = auditor.post("/console/audit/export", data={
        "since": since, "until": until, "format": "csv",
        "csrf_token": csrf_token(auditor, "/console/audit/export")})
    assert resp.status_code == 422


@pytest.mark.parametrize("target", ["/console/audit\r\nSet-Cookie: x=1", "/console/\nx",
                                    "/console/\x7f", "/console/\u2028x"])
def test_a_next_with_control_characters_is_ignored(app, client, csrf_token, make_user,
                                                   staff_password, target):
    """REQ S-04: `next=` holding a CR, LF or other control character after sign-in goes to
    the start page (no split header, no 500)."""
    make_user(app, "anne@example.com", "admin")
    resp = client.post("/console/sign-in", query_string={"next": target},
                       data={"email": "anne@example.com", "password": staff_password,
                             "csrf_token": csrf_token(client)})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/console/"
