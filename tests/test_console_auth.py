"""The staff console: sign-in, sessions, CSRF, roles, the operator's and auditor's pages."""
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from consent_server.consent import notices
from consent_server.extensions import db
from consent_server.models import (
    AccessLogEntry,
    ApiKey,
    ConsentEvent,
    SignInThrottle,
    StaffUser,
    utcnow,
)
from consent_server.staff import keys, users

# Every page a GET opens, and which roles may open it (admin may open all).
PAGES = {"/console/": ("marketing", "auditor", "admin"),
         "/console/marketing/check": ("marketing", "admin"),
         "/console/marketing/audience": ("marketing", "admin"),
         "/console/marketing/lookup": ("marketing", "admin"),
         "/console/marketing/customers": ("marketing", "admin"),
         "/console/audit": ("auditor", "admin"),
         "/console/audit/export": ("auditor", "admin"),
         "/console/audit/subject": ("auditor", "admin"),
         "/console/audit/charts": ("auditor", "admin"),
         "/console/admin/keys": ("admin",),
         "/console/admin/users": ("admin",),
         "/console/admin/notices": ("admin",),
         "/console/admin/access-log": ("admin",)}
POSTS = ["/console/sign-out", "/console/admin/keys", "/console/admin/keys/1/revoke",
         "/console/admin/users", "/console/admin/users/1/disable", "/console/admin/notices"]


def log(app):
    with app.app_context():
        return [(e.action, e.user_id, e.detail, e.rows) for e in
                db.session.execute(select(AccessLogEntry).order_by(AccessLogEntry.id)).scalars()]


# ---- signed out ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url", PAGES)
def test_signed_out_every_page_redirects_to_sign_in_and_shows_no_data(app, client, url, make_user):
    """Signed out, no console page answers with data: a redirect to the sign-in page."""
    make_user(app, "secret-admin@example.com", "admin")
    resp = client.get(url)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/console/sign-in?next=")
    assert b"secret-admin" not in resp.data


@pytest.mark.parametrize("url", POSTS)
def test_signed_out_posts_change_nothing(app, client, url, csrf_token):
    resp = client.post(url, data={"csrf_token": csrf_token(client), "name": "x", "role": "admin",
                                  "email": "new@example.com"})
    assert resp.status_code == 302 and "/console/sign-in" in resp.headers["Location"]
    with app.app_context():
        assert db.session.execute(select(ApiKey)).first() is None
        assert db.session.execute(select(StaffUser)).first() is None


# ---- sign in, cookie, CSRF -----------------------------------------------------------------------

def test_sign_in_sets_a_strict_http_only_session_cookie(app, client, make_user, sign_in):
    """REQ S-05: HttpOnly, SameSite=Strict, path /console, an expiry (the idle timeout)."""
    make_user(app, "anne@example.com", "auditor")
    resp = sign_in(client, "anne@example.com")
    assert resp.status_code == 302 and resp.headers["Location"] == "/console/"
    cookie = next(c for c in resp.headers.getlist("Set-Cookie")
                  if c.startswith("console_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Expires=" in cookie and "Secure" not in cookie
    assert client.get("/console/").status_code == 200
    assert ("sign_in", 1, None, None)[0] == log(app)[-1][0]


def test_session_cookie_is_secure_behind_https(app, app_factory, make_user, sign_in):
    https = app_factory(PUBLIC_URL="https://consent.example")
    make_user(https, "anne@example.com", "auditor")
    client = https.test_client()
    cookie = next(c for c in sign_in(client, "anne@example.com").headers.getlist("Set-Cookie")
                  if c.startswith("console_session="))
    assert "Secure" in cookie


def test_session_ends_after_the_idle_timeout(app, client, monkeypatch, make_user, sign_in):
    """A session cookie older than CONSOLE_IDLE_MINUTES is not accepted (its signed age)."""
    make_user(app, "anne@example.com", "auditor")
    sign_in(client, "anne@example.com")
    assert client.get("/console/audit").status_code == 200
    idle = app.config["CONSOLE_IDLE_MINUTES"] * 60
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + idle - 60)
    assert client.get("/console/audit").status_code == 200  # a request renews the cookie
    monkeypatch.setattr(time, "time", lambda: real() + 2 * idle + 1)
    assert client.get("/console/audit").status_code == 302


def test_a_form_posted_without_its_csrf_token_is_refused(app, client, staff, make_user,
                                                         staff_password):
    """CSRF: the sign-in form and an admin's form without the token change nothing."""
    make_user(app, "anne@example.com", "auditor")
    resp = client.post("/console/sign-in", data={"email": "anne@example.com",
                                                 "password": staff_password})
    assert resp.status_code == 400 and "Skjemaet var utløpt" in resp.get_data(as_text=True)
    assert client.get("/console/").status_code == 302  # not signed in
    admin = staff("admin")
    with app.app_context():
        key_id = keys.create_key(db.session, "ci", "auditor")[0].id
    for url, data in ((f"/console/admin/keys/{key_id}/revoke", {}),
                      ("/console/admin/keys", {"name": "x", "role": "admin"}),
                      ("/console/admin/users", {"email": "new@example.com", "role": "admin"}),
                      ("/console/sign-out", {})):
        assert admin.post(url, data=data).status_code == 400
        assert admin.post(url, data={**data, "csrf_token": "forged"}).status_code == 400
    with app.app_context():
        assert db.session.get(ApiKey, key_id).revoked_at is None
        assert len(keys.all_keys(db.session)) == 1
        assert users.find(db.session, "new@example.com") is None
    assert admin.get("/console/").status_code == 200  # still signed in


@pytest.mark.parametrize("email, password", [("anne@example.com", "wrong password!"),
                                             ("nobody@example.com", None)])  # None: the right one
def test_failed_sign_in_never_says_whether_the_address_exists(app, client, email, password,
                                                              make_user, sign_in, staff_password):
    make_user(app, "anne@example.com", "auditor")
    resp = sign_in(client, email, password or staff_password)
    assert resp.status_code == 401
    html = resp.get_data(as_text=True)
    assert "Adressen eller passordet er feil." in html
    assert client.get("/console/").status_code == 302
    assert log(app)[-1][0] == "sign_in_failed"


def test_failed_sign_ins_are_slowed(app, client, monkeypatch, make_user, sign_in):
    """After FREE_ACCOUNT failures the form answers 429 with a wait, even for the right one."""
    from consent_server.console import auth
    from consent_server.models import utcnow

    frozen = utcnow()  # one instant: a slow machine must not outlast the first 1-second wait
    monkeypatch.setattr(auth, "utcnow", lambda: frozen)
    make_user(app, "anne@example.com", "auditor")
    for _ in range(users.FREE_ACCOUNT):
        assert sign_in(client, "anne@example.com", "wrong password!").status_code == 401
    resp = sign_in(client, "anne@example.com")
    assert resp.status_code == 429 and "sekunder" in resp.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_invalid_sign_in_form_is_422(app, client, sign_in):
    assert sign_in(client, "", "").status_code == 422


@pytest.mark.parametrize("target, expected", [
    ("/console/admin/keys", "/console/admin/keys"), ("https://evil.example/", "/console/"),
    ("//evil.example/console/", "/console/"), ("/privacy", "/console/")])
def test_sign_in_returns_only_to_a_console_page(app, client, target, expected, csrf_token,
                                                make_user, staff_password):
    make_user(app, "anne@example.com", "admin")
    resp = client.post(f"/console/sign-in?next={target}",
                       data={"email": "anne@example.com", "password": staff_password,
                             "csrf_token": csrf_token(client)})
    assert resp.headers["Location"] == expected


def test_sign_out_ends_the_session(app, staff, csrf_token):
    client = staff("auditor")
    resp = client.post("/console/sign-out", data={"csrf_token": csrf_token(client, "/console/")})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/console/sign-in")
    assert client.get("/console/audit").status_code == 302
    assert [entry[0] for entry in log(app)][-2:] == ["sign_in", "sign_out"]


def test_a_disabled_account_is_signed_out_at_once(app, staff):
    client = staff("auditor")
    with app.app_context():
        users.disable_user(db.session, "auditor@example.com", utcnow())
    assert client.get("/console/audit").status_code == 302


def test_set_password_link(app, client, csrf_token, make_user, sign_in, staff_password):
    user_id = make_user(app, "new@example.com", "marketing", password=None)
    with app.app_context():
        link = users.set_password_token(app.secret_key, db.session.get(StaffUser, user_id))
    url = f"/console/set-password/{link}"
    page = client.get(url)
    assert page.status_code == 200 and b"new@example.com" in page.data
    csrf = csrf_token(client, url)
    differ = client.post(url, data={"password": staff_password, "repeat": staff_password + "x",
                                    "csrf_token": csrf})
    assert differ.status_code == 422
    short = client.post(url, data={"password": "short", "repeat": "short", "csrf_token": csrf})
    assert short.status_code == 422
    done = client.post(url, data={"password": staff_password, "repeat": staff_password,
                                  "csrf_token": csrf})
    assert done.status_code == 302
    assert client.get(url).status_code == 404  # single use
    assert client.get("/console/set-password/garbage").status_code == 404
    assert sign_in(client, "new@example.com").status_code == 302


# ---- roles ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["marketing", "auditor", "admin"])
def test_each_role_opens_its_pages_and_gets_403_on_the_others(staff, role):
    client = staff(role)
    for url, roles in PAGES.items():
        resp = client.get(url)
        assert resp.status_code == (200 if role in roles else 403), (role, url)
        if resp.status_code == 403:
            assert b"admin@example.com" not in resp.data.replace(b"%s@" % role.encode(), b"")


@pytest.mark.parametrize("role", ["marketing", "auditor"])
def test_other_roles_cannot_post_the_admin_forms(app, staff, role, csrf_token):
    client = staff(role)
    csrf = csrf_token(client, "/console/")
    with app.app_context():
        key_id = keys.create_key(db.session, "ci", "auditor")[0].id
    assert client.post(f"/console/admin/keys/{key_id}/revoke",
                       data={"csrf_token": csrf}).status_code == 403
    assert client.post("/console/admin/keys", data={"csrf_token": csrf, "name": "x",
                                                    "role": "admin"}).status_code == 403
    assert client.post("/console/admin/users", data={"csrf_token": csrf, "role": "admin",
                                                     "email": "x@example.com"}).status_code == 403
    assert client.post("/console/admin/notices", data={"csrf_token": csrf}).status_code == 403
    with app.app_context():
        assert db.session.get(ApiKey, key_id).revoked_at is None
        assert len(keys.all_keys(db.session)) == 1
        assert len(notices.versions(db.session)) == 1


# ---- pages: headers, language --------------------------------------------------------------------

def test_pages_carry_security_headers_and_no_inline_script_or_style(app, client, staff):
    """REQ S-05: a CSP without inline script or style, nosniff, no framing, no caching."""
    admin = staff("admin")
    for url in ["/console/sign-in", *PAGES]:
        resp = (client if url == "/console/sign-in" else admin).get(url)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "style-src 'self'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["Cache-Control"] == "no-store"
        html = resp.get_data(as_text=True)
        scripts = re.findall(r"<script[^>]*>", html)
        assert all(re.fullmatch(r'<script src="/console/static/\w+\.js" defer>', tag)
                   for tag in scripts), scripts  # only files of this server, nothing inline
        assert "<style" not in html and " style=" not in html
        assert re.search(r'<link rel="stylesheet" href="/console/static/console\.css">', html)
        assert 'required="None"' not in html
        assert "http://" not in html.replace(app.config["PUBLIC_URL"], "") \
            and "https://" not in html


def test_the_stylesheet_is_served_by_this_server(client):
    with client.get("/console/static/console.css") as resp:
        assert resp.status_code == 200 and resp.mimetype == "text/css"
        assert b"focus-visible" in resp.data


def test_pages_in_bokmal_and_english(app, client):
    nb = client.get("/console/sign-in").get_data(as_text=True)
    assert '<html lang="nb">' in nb and "Logg inn" in nb
    en = client.get("/console/sign-in?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "Sign in" in en
    assert 'action=""' not in en
    assert 'href="/console/sign-in?lang=nb"' in en


def test_language_chosen_stays_on_links(staff):
    html = staff("admin").get("/console/?lang=en").get_data(as_text=True)
    assert 'href="/console/admin/keys?lang=en"' in html
    assert 'action="/console/sign-out?lang=en"' in html


# ---- operator: keys ------------------------------------------------------------------------------

def test_admin_creates_a_key_shown_once_and_revokes_it(app, staff, csrf_token):
    """REQ S-01: a key made in the console is shown once, stored hashed, and revocable."""
    admin = staff("admin")
    csrf = csrf_token(admin, "/console/admin/keys")
    resp = admin.post("/console/admin/keys", data={"name": "auditor script", "role": "auditor",
                                                   "csrf_token": csrf})
    assert resp.status_code == 201
    secret = re.search(r'id="new-secret">(cs_[^<]+)<', resp.get_data(as_text=True)).group(1)
    api = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/audit/verify", headers=auth).status_code == 200
    listing = admin.get("/console/admin/keys").get_data(as_text=True)
    assert "auditor script" in listing and secret not in listing
    with app.app_context():
        key = db.session.execute(select(ApiKey)).scalar_one()
        key_id = key.id
        assert secret not in key.secret_hash
    asked = admin.post(f"/console/admin/keys/{key_id}/revoke", data={"csrf_token": csrf})
    assert asked.status_code == 200 and 'name="confirmed" value="yes"' in asked.text
    assert api.get("/api/v1/audit/verify", headers=auth).status_code == 200  # not yet
    resp = admin.post(f"/console/admin/keys/{key_id}/revoke",
                      data={"csrf_token": csrf, "confirmed": "yes"})
    assert resp.status_code == 302
    assert api.get("/api/v1/audit/verify", headers=auth).status_code == 401
    assert [e[0] for e in log(app)][-2:] == ["key_created", "key_revoked"]
    assert admin.post("/console/admin/keys/999/revoke",
                      data={"csrf_token": csrf}).status_code == 404


def test_key_form_errors_are_422(staff, csrf_token):
    admin = staff("admin")
    csrf = csrf_token(admin, "/console/admin/keys")
    assert admin.post("/console/admin/keys", data={"name": "", "role": "auditor",
                                                   "csrf_token": csrf}).status_code == 422
    resp = admin.post("/console/admin/keys", data={"name": "x", "role": "root",
                                                   "csrf_token": csrf})
    assert resp.status_code == 422 and b'aria-invalid="true"' in resp.data


# ---- operator: users -----------------------------------------------------------------------------

def test_admin_creates_an_account_with_a_one_time_link_and_disables_it(app, staff, csrf_token):
    admin = staff("admin")
    csrf = csrf_token(admin, "/console/admin/users")
    resp = admin.post("/console/admin/users", data={"email": "new@example.com",
                                                    "role": "marketing", "csrf_token": csrf})
    assert resp.status_code == 201
    link = re.search(r'id="set-password-link">([^<]+)<', resp.get_data(as_text=True)).group(1)
    path = link[len(app.config["PUBLIC_URL"]):]
    assert app.test_client().get(path).status_code == 200
    again = admin.post("/console/admin/users", data={"email": "new@example.com",
                                                     "role": "admin", "csrf_token": csrf})
    assert again.status_code == 422
    with app.app_context():
        user_id = users.find(db.session, "new@example.com").id
    assert admin.post(f"/console/admin/users/{user_id}/disable",
                      data={"csrf_token": csrf}).status_code == 200  # asks first
    assert app.test_client().get(path).status_code == 200
    assert admin.post(f"/console/admin/users/{user_id}/disable",
                      data={"csrf_token": csrf, "confirmed": "yes"}).status_code == 302
    assert app.test_client().get(path).status_code == 404
    with app.app_context():
        assert users.find(db.session, "new@example.com").disabled_at is not None
    assert [e[0] for e in log(app)][-2:] == ["user_created", "user_disabled"]


def test_admin_cannot_disable_their_own_account(app, staff, csrf_token):
    admin = staff("admin")
    with app.app_context():
        own = users.find(db.session, "admin@example.com").id
    resp = admin.post(f"/console/admin/users/{own}/disable",
                      data={"csrf_token": csrf_token(admin, "/console/")})
    assert resp.status_code == 302
    assert admin.get("/console/admin/users").status_code == 200
    assert admin.post("/console/admin/users/999/disable",
                      data={"csrf_token": csrf_token(admin, "/console/")}).status_code == 404


# ---- operator: notices ---------------------------------------------------------------------------

def test_notices_list_and_publish_again_as_material(app, staff, csrf_token):
    admin = staff("admin")
    page = admin.get("/console/admin/notices").get_data(as_text=True)
    assert "<td>1</td>" in page and 'class="diff"' not in page
    expected = re.search(r'name="expected" type="hidden" value="([0-9a-f]+)"', page).group(1)
    resp = admin.post("/console/admin/notices", data={"csrf_token": csrf_token(admin, "/console/"),
                                                      "expected": expected, "material": "y"})
    assert resp.status_code == 302
    with app.app_context():
        latest = notices.current(db.session)
        assert latest.version == "2" and latest.material
        assert notices.valid_versions(db.session) == ["2"]
    assert log(app)[-1][0] == "notice_published"


def test_publishing_a_text_other_than_the_one_shown_is_refused(app, staff, csrf_token):
    admin = staff("admin")
    resp = admin.post("/console/admin/notices", data={"csrf_token": csrf_token(admin, "/console/"),
                                                      "expected": "0" * 64})
    assert resp.status_code == 302
    with app.app_context():
        assert len(notices.versions(db.session)) == 1


def test_the_diff_of_a_changed_text_is_shown_before_publishing(app, app_factory, tmp_path,
                                                               csrf_token, make_user, sign_in):
    site = tmp_path / "site.toml"
    source = Path(app.config.get("SITE_FILE") or
                  Path(__file__).parents[1] / "consent_server" / "consent" / "site.toml")
    site.write_text(source.read_text(encoding="utf-8").replace("13 måneder", "12 måneder"),
                    encoding="utf-8")
    changed = app_factory(SITE_FILE=str(site))
    make_user(changed, "admin@example.com", "admin")
    client = changed.test_client()
    sign_in(client, "admin@example.com")
    page = client.get("/console/admin/notices").get_data(as_text=True)
    assert '<span class="del">-' in page and "13 måneder" in page
    assert '<span class="add">+' in page and "12 måneder" in page
    expected = re.search(r'name="expected" type="hidden" value="([0-9a-f]+)"', page).group(1)
    client.post("/console/admin/notices", data={"csrf_token": csrf_token(client, "/console/"),
                                                "expected": expected})
    with changed.app_context():
        latest = notices.current(db.session)
        assert latest.version == "2" and not latest.material
        assert "12 måneder" in notices.text(db.session, latest, "nb").text


# ---- operator: access log ------------------------------------------------------------------------

def test_access_log_shows_sign_ins_with_no_subject_data(app, staff, post_consent):
    """REQ S-06: who and when, no address or consent id of a subject."""
    consent_id = post_consent().json["consent_id"]
    staff("auditor").get("/console/audit")
    page = staff("admin").get("/console/admin/access-log").get_data(as_text=True)
    assert "auditor@example.com" in page and "sign_in" in page
    assert consent_id not in page
    with app.app_context():
        assert not db.session.execute(select(SignInThrottle)).first()


# ---- audit ---------------------------------------------------------------------------------------

def test_audit_page_shows_the_chain_verified_now(app, staff, post_consent):
    post_consent()
    post_consent()
    page = staff("auditor").get("/console/audit").get_data(as_text=True)
    assert 'id="chain-status">' in page and "intakt" in page
    assert "<dd>2</dd>" in page


def test_audit_page_shows_a_broken_chain(app, staff, post_consent):
    for _ in range(3):
        post_consent()
    with app.app_context():
        db.session.execute(update(ConsentEvent).where(ConsentEvent.seq == 2)
                           .values(choices='{"analytics":false}'))
        db.session.commit()
    page = staff("auditor").get("/console/audit?lang=en").get_data(as_text=True)
    assert "Broken at sequence number 2." in page and 'role="alert"' in page


def test_unknown_console_page_is_an_html_404(staff):
    resp = staff("admin").get("/console/nothing-here")
    assert resp.status_code == 404
