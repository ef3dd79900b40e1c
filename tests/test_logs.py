"""Error logs hold no path and no forged line (issue 19, item 2): Flask's exception line and
gunicorn's name the route's rule; control characters from a request are escaped."""
import http.client
import json
import logging
import socket
import sqlite3
import urllib.parse

import pytest
from flask.logging import default_handler

from consent_server.http.logs import SafeLines, escape_controls
from consent_server.people import links, rights

FORGED = "\n[2026-12-07 00:00:00 +0000] [1] [INFO] forged by a client"
# A record's first line: a time in brackets (gunicorn) or a level (Flask's default format).
RECORD_START = ("[2026-12-07 00:00:00", "[INFO", "INFO")


@pytest.fixture
def crashing(app_factory, monkeypatch):
    """A client of an app whose person page fails with an error naming nothing (a 500), and
    which answers 500 instead of raising into the test."""
    def fail(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(rights, "own_page", fail)
    return app_factory(PROPAGATE_EXCEPTIONS=False)


def test_a_500_on_a_token_route_logs_the_rule_and_not_the_token(crashing, caplog):
    """REQ S-06: the exception line names `/subscriptions/me/<token>`, never the token."""
    with crashing.app_context():
        token = links.access_url("a" * 64).rsplit("/", 1)[1]
    with caplog.at_level(logging.ERROR):
        resp = crashing.test_client().get(f"/subscriptions/me/{token}")
    assert resp.status_code == 500
    assert "Exception on /subscriptions/me/<token> [GET]" in caplog.text
    assert "the database went away" in caplog.text  # the traceback is still there
    assert token not in caplog.text and token[:20] not in caplog.text


def test_a_control_character_in_a_path_cannot_forge_a_log_line(crashing, caplog):
    """REQ S-06: a CR, LF or escape sequence in the path of a failing request stays inside its
    line (a NUL never gets that far: http/inputs.py refuses it)."""
    token = urllib.parse.quote(f"x\x1b[2K\r{FORGED}", safe="")
    with caplog.at_level(logging.ERROR):
        assert crashing.test_client().get(f"/subscriptions/me/{token}").status_code == 500
    assert "forged" not in caplog.text


def test_every_record_is_one_line_with_its_traceback_indented():
    """REQ S-06: the filter escapes controls in any message and indents the traceback, so no
    line of a record can pass for another record."""
    try:
        raise ValueError(f"bad value{FORGED}")
    except ValueError as error:
        record = logging.LogRecord("consent_server", logging.ERROR, __file__, 1,
                                   "client sent %r and %s", ("x", f"\x00\x1b[31m{FORGED}"),
                                   (type(error), error, error.__traceback__))
    assert SafeLines().filter(record)
    text = logging.Formatter("%(levelname)s %(message)s").format(record)
    lines = text.splitlines()
    assert lines[0].startswith("ERROR client sent 'x' and \\x00\\x1b[31m\\n[2026-12-07")
    assert all(line.startswith("    ") for line in lines[1:]) and len(lines) > 3
    assert not any(line.startswith(RECORD_START) for line in lines)
    assert escape_controls("a\u2028b\x7fc\td") == "a\\u2028b\\x7fc\\td"


def test_gunicorns_logs_of_a_500_hold_neither_the_token_nor_a_forged_line(
        app, gunicorn, tmp_path):
    """REQ S-06: under gunicorn with the project's configuration, a database without tables
    (as when it is down) makes 500s on a token route and on a consent id with a newline: the
    log names the rules, never the token, the id or a forged line; a request line gunicorn
    cannot parse, quoting a token, is withheld too."""
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with app.app_context():
        token = links.access_url("b" * 64).rsplit("/", 1)[1]
    log = tmp_path / "gunicorn.log"
    with gunicorn(log, workers=1, CONSENT_DATABASE_URL=f"sqlite:///{empty}") as server:
        for path in (f"/subscriptions/me/{token}",
                     "/api/v1/consents/" + urllib.parse.quote(f"kept-secret{FORGED}", safe="")):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", path)
            assert conn.getresponse().status == 500
            conn.close()
        raw = socket.create_connection(("127.0.0.1", server.port))
        raw.sendall(f"GET /subscriptions/me/{token} HTTP/1.1 junk\r\n\r\n".encode())
        raw.recv(1024)
        raw.close()
    text = log.read_text()
    assert "Exception on /subscriptions/me/<token> [GET]" in text
    assert "Exception on /api/v1/consents/<consent_id> [GET]" in text
    for value in (token, token[:20], "kept-secret", "forged"):
        assert value not in text, value


def test_a_log_format_other_than_text_or_json_is_refused_at_the_start(app_factory):
    """REQ S-06: a misspelt CONSENT_LOG_FORMAT stops the start, naming the choices."""
    with pytest.raises(RuntimeError, match="CONSENT_LOG_FORMAT must be one of text, json"):
        app_factory(LOG_FORMAT="yaml")


def test_json_log_lines_are_objects_with_the_same_safe_message(crashing, app_factory, caplog):
    """REQ S-06: with LOG_FORMAT=json, Flask's handler writes the exception record as one JSON
    object on one line: the rule, not the token, and the traceback as a field; an app made
    afterwards with the default writes text again."""
    json_app = app_factory(LOG_FORMAT="json", PROPAGATE_EXCEPTIONS=False)
    with json_app.app_context():
        token = links.access_url("c" * 64).rsplit("/", 1)[1]
    with caplog.at_level(logging.ERROR):
        assert json_app.test_client().get(f"/subscriptions/me/{token}").status_code == 500
    line = default_handler.format(caplog.records[-1])
    assert "\n" not in line and token not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["logger"] == json_app.logger.name
    assert entry["message"] == "Exception on /subscriptions/me/<token> [GET]"
    assert "the database went away" in entry["exception"]
    app_factory()
    assert default_handler.format(caplog.records[-1]).splitlines()[0].endswith(
        "ERROR in app: Exception on /subscriptions/me/<token> [GET]")


def test_gunicorns_json_log_has_one_object_per_line_and_no_personal_value(
        app, gunicorn, choice, tmp_path):
    """REQ S-06: under gunicorn with CONSENT_LOG_FORMAT=json, every line it writes (start,
    access, errors) is a JSON object; access lines carry the route rule, status, truncated
    client network and time as fields; no consent id appears."""
    log = tmp_path / "gunicorn.json.log"
    with gunicorn(log, workers=1, CONSENT_LOG_FORMAT="json") as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/api/v1/consents", body=json.dumps(choice),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 201
        consent_id = json.loads(resp.read())["consent_id"]
        conn.request("GET", f"/api/v1/consents/{consent_id}")
        assert conn.getresponse().status == 200
        conn.close()
    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any(e["logger"] == "gunicorn.error" and "Listening at" in e["message"]
               for e in entries)
    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    assert {(e["method"], e["route"], e["status"]) for e in access} >= {
        ("POST", "/api/v1/consents", 201), ("GET", "/api/v1/consents/<consent_id>", 200)}
    assert all(e["client"] == "127.0.0.0" and isinstance(e["ms"], int) for e in access)
    assert consent_id not in text
