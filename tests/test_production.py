"""The production configuration under gunicorn: slow clients starve nobody, and the logs of a
whole flow hold none of the personal values sent (S-06)."""
import http.client
import json
import socket
import time
import uuid

from consent_server.extensions import db
from consent_server.staff import keys

SLOW_CLIENTS = 8


def _healthz(server, timeout=15):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    finally:
        conn.close()


def test_slow_clients_do_not_starve_healthz(app, gunicorn, tmp_path, choice, args=()):
    """Eight clients that send a consent's body a byte at a time hold a thread each, not a
    worker: /healthz (and a normal POST) are answered while every one of them is still
    sending. (Four sync workers were all blocked by six such clients.)"""
    body = json.dumps(choice).encode()
    with gunicorn(tmp_path / "gunicorn.log", workers=2, args=args) as server:
        slow = []
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.sendall(b"POST /api/v1/consents HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[:1])
            slow.append(sock)
        for n in range(1, 4):  # the bodies trickle on
            for sock in slow:
                sock.sendall(body[n:n + 1])
            time.sleep(0.3)
        assert _healthz(server) == 200
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        conn.request("POST", "/api/v1/consents", body=body,
                     headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 201
        conn.close()
        for sock in slow:  # none was answered yet: each still owes most of its body
            sock.setblocking(False)
            try:
                assert sock.recv(1) == b"", "a slow client got an answer before its body"
            except BlockingIOError:
                pass
        for sock in slow:  # then each finishes and is answered as any other client
            sock.setblocking(True)
            sock.sendall(body[4:])
            assert sock.recv(64).startswith(b"HTTP/1.1 201")
            sock.close()


def _request(server, method, path, body=None, headers=None, source="127.0.0.2"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15,
                                      source_address=(source, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                       **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_the_logs_of_a_whole_flow_hold_no_personal_value(app, gunicorn, tmp_path, choice):
    """REQ S-06: gunicorn's access and error logs (the project's configuration, at info) of a
    consent, a read, its events, a withdrawal, an erasure, a sign-up, an access request, a
    pre-send check, an export, a subject's history, a person's link and a malformed request:
    no full address, user agent, referrer, query string, e-mail address, key, consent or event
    id, token."""
    with app.app_context():
        secret = keys.create_key(db.session, "log test", "auditor")[1]
        marketer = keys.create_key(db.session, "log test marketing", "marketing")[1]
    email = f"kari.{uuid.uuid4().hex[:8]}@example.no"
    log = tmp_path / "gunicorn.log"
    event_id = str(uuid.uuid4())
    agent = f"Mozilla/5.0 (LogProbe {uuid.uuid4().hex})"
    referrer = "https://shop.example/checkout?email=kari.nordmann%40example.no"
    headers = {"User-Agent": agent, "Referer": referrer, "Origin": "https://shop.example",
               "X-Forwarded-For": "198.51.100.77"}
    with gunicorn(log, workers=1) as server:
        status, answer = _request(server, "POST", "/api/v1/consents",
                                  {**choice, "event_id": event_id}, headers)
        assert status == 201
        consent_id = json.loads(answer)["consent_id"]
        sent = [
            _request(server, "GET", f"/api/v1/consents/{consent_id}?who=kari", None, headers),
            _request(server, "GET", f"/api/v1/consents/{consent_id}/events", None, headers),
            _request(server, "POST", "/api/v1/consents",
                     {**choice, "consent_id": consent_id, "choices": {}}, headers),
            _request(server, "DELETE", f"/api/v1/consents/{consent_id}", None, headers),
            _request(server, "GET", "/api/v1/audit/verify", None,
                     {**headers, "Authorization": f"Bearer {secret}"}),
            _request(server, "GET", f"/privacy?ref={consent_id}", None, headers),
            _request(server, "POST", "/api/v1/subscriptions",
                     {"email": email, "purposes": {"newsletter": True}, "language": "nb",
                      "policy_version": "1", "consent_id": consent_id}, headers),
            _request(server, "POST", "/api/v1/subscriptions/access", {"email": email}, headers),
            _request(server, "POST", "/api/v1/marketing/check",
                     {"purpose": "newsletter", "emails": [email]},
                     {**headers, "Authorization": f"Bearer {marketer}"}),
            _request(server, "GET", f"/api/v1/audit/events?format=csv&subject={email}", None,
                     {**headers, "Authorization": f"Bearer {secret}"}),
            _request(server, "GET", f"/api/v1/audit/subjects/{email}", None,
                     {**headers, "Authorization": f"Bearer {secret}"}),
            _request(server, "GET", "/unsubscribe/a-token-of-kari", None, headers),
        ]
        # (the sign-up is pending: no history yet for the address, and the token is made up)
        assert [s for s, _ in sent] == [200, 200, 201, 200, 200, 200, 202, 202, 200, 200, 404,
                                        404], [s for s, _ in sent]
        raw = socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.0.2", 0))
        raw.sendall(b"NOT A REQUEST LINE\r\n\r\n")  # gunicorn's error log names the address
        raw.recv(1024)
        raw.close()
    text = log.read_text()
    assert '127.0.0.0 "POST /api/v1/consents" 201' in text  # the access log is on
    assert '"DELETE /api/v1/consents/<consent_id>" 200' in text
    assert "Invalid request from ip=127.0.0.0" in text
    assert '"GET /api/v1/audit/subjects/<subject>" 404' in text
    assert '"POST /api/v1/marketing/check" 200' in text
    for value in ("127.0.0.2", consent_id, event_id, agent, "LogProbe", "kari", "example.no",
                  email, "198.51.100.77", secret, secret[:12], marketer, "checkout", "a-token-of"):
        assert value not in text, value


def test_addresses_in_any_log_message_are_cut_to_their_network():
    """REQ S-06: the filter on gunicorn's error log and werkzeug's log cuts IPv4, IPv6 and
    mapped addresses wherever they stand, and leaves versions and times alone."""
    from consent_server.http.logs import truncate_addresses

    assert truncate_addresses("Invalid request from ip=192.0.2.77: bad") == \
        "Invalid request from ip=192.0.2.0: bad"
    assert truncate_addresses("peer 2001:db8:1:2::5 and [::ffff:10.2.3.4]:55.") == \
        "peer 2001:db8:1:: and [10.2.3.0]:55."
    assert truncate_addresses("Mozilla/5.0 at 12:30:45, v1.2.3.4.5") == \
        "Mozilla/5.0 at 12:30:45, v1.2.3.4.5"
