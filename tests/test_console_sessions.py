"""Console sessions end server-side (issue 19, item 6): sign-out, a new password and disabling
void every copy of the cookie; a session has an absolute lifetime; each sign-in starts anew."""
import time

import pytest

from consent_server.extensions import db
from consent_server.models import utcnow
from consent_server.staff import users

COOKIE = "console_session"


def replay(app, cookie: str, user_agent: str = "another browser/1.0"):
    """A new client (another user agent) carrying a copied session cookie."""
    client = app.test_client()
    client.set_cookie(COOKIE, cookie, path="/console")
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def cookie_of(client) -> str:
    return client.get_cookie(COOKIE, path="/console").value


def test_a_cookie_copied_before_sign_out_opens_nothing_after(app, staff, csrf_token):
    """REQ S-09: after sign-out the captured cookie is refused from any browser, and replaying
    it does not bring it back."""
    client = staff("auditor")
    captured = cookie_of(client)
    assert replay(app, captured).get("/console/audit").status_code == 200  # a copy works now
    resp = client.post("/console/sign-out", data={"csrf_token": csrf_token(client, "/console/")})
    assert resp.status_code == 302
    for _ in range(2):
        assert replay(app, captured).get("/console/audit").status_code == 302
    assert replay(app, captured, user_agent="").get("/console/audit").status_code == 302


def test_sign_out_ends_the_accounts_other_sessions_and_a_new_sign_in_starts_anew(
        app, make_user, client_of, csrf_token):
    """Signing out ends every session of the account; the next sign-in gets a new key, so no
    earlier cookie comes back to life."""
    make_user(app, "anne@example.com", "auditor")
    first, second = client_of(app, "anne@example.com"), client_of(app, "anne@example.com")
    old = cookie_of(first)
    first.post("/console/sign-out", data={"csrf_token": csrf_token(first, "/console/")})
    assert second.get("/console/audit").status_code == 302
    again = client_of(app, "anne@example.com")
    assert cookie_of(again) != old and again.get("/console/audit").status_code == 200
    assert replay(app, old).get("/console/audit").status_code == 302


@pytest.mark.parametrize("end", ["password", "disable"])
def test_a_new_password_or_disabling_ends_the_sessions(app, make_user, client_of, end):
    make_user(app, "anne@example.com", "auditor")
    client = client_of(app, "anne@example.com")
    with app.app_context():
        user = users.find(db.session, "anne@example.com")
        if end == "password":
            users.set_password(db.session, user, "another good password")
        else:
            users.disable_user(db.session, "anne@example.com", utcnow())
    assert client.get("/console/audit").status_code == 302


def test_a_session_ends_after_its_absolute_lifetime_however_active(app_factory, make_user,
                                                                   client_of, monkeypatch):
    """REQ S-09: CONSOLE_MAX_HOURS caps a session that never idles past CONSOLE_IDLE_MINUTES."""
    app = app_factory(CONSOLE_IDLE_MINUTES=30, CONSOLE_MAX_HOURS=1)
    make_user(app, "anne@example.com", "auditor")
    client = client_of(app, "anne@example.com")
    real, offset = time.time, [0]
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])
    for minutes in (20, 40, 55):
        offset[0] = minutes * 60
        assert client.get("/console/audit").status_code == 200, minutes
    offset[0] = 61 * 60
    assert client.get("/console/audit").status_code == 302


def test_a_cookie_naming_only_the_account_id_is_refused(app, make_user, client_of):
    """A session from before session keys (`_user_id` = the id alone) or with a forged key."""
    user_id = make_user(app, "anne@example.com", "auditor")
    with app.app_context():
        assert users.user_for_session(db.session, str(user_id)) is None
        assert users.user_for_session(db.session, f"{user_id}.forged") is None
        assert users.user_for_session(db.session, "x.y") is None
    client_of(app, "anne@example.com")
    with app.app_context():
        user = users.find(db.session, "anne@example.com")
        assert users.user_for_session(db.session, user.get_id()).id == user_id
