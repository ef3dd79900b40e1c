"""Staff accounts complete: list, enable, change a role, reset a password (a one-time link), list
the keys, from the command line and the Users page; every change in the access log with who
made it (`cli` on the command line); revoking and disabling ask first (REQ S-01, S-06)."""
import re

import pytest
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.models import AccessLogEntry, StaffUser
from consent_server.staff import keys, users

LINK = re.compile(r'id="set-password-link">([^<]+)<')


def log_rows(app):
    """(action, user_id, actor, detail) of every access log entry, oldest first."""
    with app.app_context():
        return [(e.action, e.user_id, e.actor, e.detail) for e in db.session.execute(
            select(AccessLogEntry).order_by(AccessLogEntry.id)).scalars()]


def account(app, email):
    with app.app_context():
        return users.find(db.session, email)


def cli(runner, *args):
    result = runner.invoke(args=["consent", *args])
    assert result.exit_code == 0, result.output
    return result


# ---- the command line ----------------------------------------------------------------------------

def test_list_users_shows_each_account_with_its_role_and_status(app, runner, make_user):
    make_user(app, "anne@example.com", "auditor")
    make_user(app, "ola@example.com", "marketing", password=None)
    cli(runner, "disable-user", "anne@example.com")
    lines = cli(runner, "list-users").output.strip().splitlines()
    assert lines[0].split("\t") == ["id", "role", "email", "created", "status"]
    rows = {line.split("\t")[2]: line.split("\t") for line in lines[1:]}
    assert rows["anne@example.com"][1] == "auditor"
    assert rows["anne@example.com"][4].startswith("disabled ")
    assert rows["ola@example.com"][4] == "no password yet"


def test_enable_user_lets_a_disabled_account_sign_in_again(app, runner, make_user, client,
                                                           sign_in):
    make_user(app, "anne@example.com", "auditor")
    cli(runner, "disable-user", "anne@example.com")
    assert sign_in(client, "anne@example.com").status_code != 302
    assert "enabled" in cli(runner, "enable-user", "anne@example.com").output
    assert sign_in(app.test_client(), "anne@example.com").status_code == 302
    assert runner.invoke(args=["consent", "enable-user", "nobody@example.com"]).exit_code == 1


def test_set_role_changes_what_the_account_may_open(app, runner, make_user, client_of):
    make_user(app, "anne@example.com", "marketing")
    client = client_of(app, "anne@example.com")
    assert client.get("/console/audit").status_code == 403
    cli(runner, "set-role", "anne@example.com", "auditor")
    assert account(app, "anne@example.com").role == "auditor"
    assert client.get("/console/audit").status_code == 200  # the same session, its next request
    assert runner.invoke(args=["consent", "set-role", "anne@example.com", "root"]).exit_code == 2
    assert runner.invoke(args=["consent", "set-role", "nobody@example.com",
                               "admin"]).exit_code == 1


def test_reset_password_ends_the_old_one_and_prints_a_one_time_link(app, runner, make_user,
                                                                    sign_in, csrf_token,
                                                                    staff_password):
    make_user(app, "anne@example.com", "auditor")
    result = cli(runner, "reset-password", "anne@example.com")
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith(app.config["PUBLIC_URL"] + "/console/set-password/")
    assert sign_in(app.test_client(), "anne@example.com").status_code != 302  # old password
    client = app.test_client()
    path = link[len(app.config["PUBLIC_URL"]):]
    new = staff_password + " again"
    done = client.post(path, data={"password": new, "repeat": new,
                                   "csrf_token": csrf_token(client, path)})
    assert done.status_code == 302
    assert client.get(path).status_code == 404  # used once
    assert sign_in(app.test_client(), "anne@example.com", new).status_code == 302
    second = cli(runner, "reset-password", "anne@example.com")
    assert second.stdout.strip().splitlines()[-1] != link
    assert app.test_client().get(path).status_code == 404


def test_list_keys_shows_every_key_and_never_a_secret(app, runner):
    secret = cli(runner, "create-key", "--role", "auditor", "--name", "revisor").stdout.strip()
    cli(runner, "create-key", "--role", "marketing", "--name", "nyhetsbrev")
    cli(runner, "revoke-key", "revisor")
    listing = cli(runner, "list-keys").output
    assert secret not in listing and secret.split("_")[-1] not in listing
    rows = {line.split("\t")[2]: line.split("\t") for line in listing.strip().splitlines()[1:]}
    assert rows["revisor"][1] == "auditor" and rows["revisor"][5] != "-"
    assert rows["nyhetsbrev"][1] == "marketing" and rows["nyhetsbrev"][5] == "-"
    with app.app_context():
        hashes = [k.secret_hash for k in keys.all_keys(db.session)]
    assert not any(h in listing for h in hashes)


def test_every_change_on_the_command_line_is_in_the_access_log_by_cli(app, runner, staff,
                                                                      make_user):
    before = len(log_rows(app))
    cli(runner, "create-key", "--role", "auditor", "--name", "revisor")
    cli(runner, "revoke-key", "revisor")
    cli(runner, "create-user", "--email", "ny@example.com", "--role", "marketing", "--link")
    cli(runner, "disable-user", "ny@example.com")
    cli(runner, "enable-user", "ny@example.com")
    cli(runner, "set-role", "ny@example.com", "auditor")
    cli(runner, "reset-password", "ny@example.com")
    cli(runner, "publish-policy", "--force")
    rows = log_rows(app)[before:]
    assert [r[0] for r in rows] == ["key_created", "key_revoked", "user_created", "user_disabled",
                                    "user_enabled", "role_changed", "password_reset",
                                    "notice_published"]
    assert {(r[1], r[2]) for r in rows} == {(None, "cli")}
    assert "ny@example.com" not in " ".join(r[3] or "" for r in rows)  # ids, never addresses
    page = staff("admin").get("/console/admin/access-log").text
    assert "<td>cli</td><td>role_changed</td>" in page


# ---- the Users page ------------------------------------------------------------------------------

def test_admin_changes_role_enables_and_resets_on_the_users_page(app, staff, make_user,
                                                                 csrf_token, sign_in):
    admin = staff("admin")
    admin_id = account(app, "admin@example.com").id
    anne = make_user(app, "anne@example.com", "marketing")
    csrf = csrf_token(admin, "/console/admin/users")
    page = admin.get("/console/admin/users").text
    assert f'action="/console/admin/users/{anne}/role"' in page
    assert admin.post(f"/console/admin/users/{anne}/role",
                      data={"csrf_token": csrf, "role": "auditor"}).status_code == 302
    assert account(app, "anne@example.com").role == "auditor"
    assert admin.post(f"/console/admin/users/{anne}/role",
                      data={"csrf_token": csrf, "role": "root"}).status_code == 302
    assert account(app, "anne@example.com").role == "auditor"
    # disable (asked, then confirmed), then enable
    admin.post(f"/console/admin/users/{anne}/disable", data={"csrf_token": csrf,
                                                              "confirmed": "yes"})
    assert "Aktiver anne@example.com" in admin.get("/console/admin/users").text
    assert admin.post(f"/console/admin/users/{anne}/enable",
                      data={"csrf_token": csrf}).status_code == 302
    assert account(app, "anne@example.com").is_active
    # reset: asked first, then a new one-time link on the page
    asked = admin.post(f"/console/admin/users/{anne}/reset-password", data={"csrf_token": csrf})
    assert asked.status_code == 200 and 'value="yes"' in asked.text
    assert sign_in(app.test_client(), "anne@example.com").status_code == 302  # not yet
    reset = admin.post(f"/console/admin/users/{anne}/reset-password",
                       data={"csrf_token": csrf, "confirmed": "yes"})
    link = LINK.search(reset.text).group(1)
    assert reset.status_code == 200 and "anne@example.com" in reset.text
    assert sign_in(app.test_client(), "anne@example.com").status_code != 302
    assert app.test_client().get(link[len(app.config["PUBLIC_URL"]):]).status_code == 200
    rows = [r for r in log_rows(app) if r[0] in ("role_changed", "user_disabled", "user_enabled",
                                                 "password_reset")]
    assert [r[0] for r in rows] == ["role_changed", "user_disabled", "user_enabled",
                                    "password_reset"]
    assert {(r[1], r[2]) for r in rows} == {(admin_id, None)}
    assert rows[0][3] == f"user {anne}, role auditor"


def test_admin_cannot_change_their_own_role_enable_or_reset_it(app, staff, csrf_token):
    admin = staff("admin")
    own = account(app, "admin@example.com").id
    csrf = csrf_token(admin, "/console/admin/users")
    for action, data in (("role", {"role": "marketing"}), ("enable", {}),
                         ("reset-password", {"confirmed": "yes"})):
        assert admin.post(f"/console/admin/users/{own}/{action}",
                          data={"csrf_token": csrf, **data}).status_code == 302
    assert account(app, "admin@example.com").role == "admin"
    assert admin.get("/console/admin/users").status_code == 200  # still signed in, as admin
    assert admin.post("/console/admin/users/999/role",
                      data={"csrf_token": csrf, "role": "admin"}).status_code == 404


def test_revoke_and_disable_ask_first_and_change_nothing_until_confirmed(app, staff,
                                                                         make_user, csrf_token):
    admin = staff("admin")
    anne = make_user(app, "anne@example.com", "auditor")
    with app.app_context():
        key_id = keys.create_key(db.session, "revisor", "auditor")[0].id
    csrf = csrf_token(admin, "/console/admin/users")
    for url, thing in ((f"/console/admin/keys/{key_id}/revoke", "revisor"),
                       (f"/console/admin/users/{anne}/disable", "anne@example.com")):
        asked = admin.post(url + "?lang=en", data={"csrf_token": csrf})
        assert asked.status_code == 200
        assert thing in asked.text and "cannot be undone" in asked.text or "until an admin" in \
            asked.text
        assert f'action="{url}?lang=en"' in asked.text and "Cancel" in asked.text
    with app.app_context():
        assert keys.find_key(db.session, key_id).revoked_at is None
        assert db.session.get(StaffUser, anne).disabled_at is None
    assert not [r for r in log_rows(app) if r[0] in ("key_revoked", "user_disabled")]


def test_a_password_set_by_link_is_in_the_access_log(app, client, make_user, csrf_token,
                                                     staff_password):
    user_id = make_user(app, "ny@example.com", "marketing", password=None)
    with app.app_context():
        token = users.set_password_token(app.secret_key, db.session.get(StaffUser, user_id))
    url = f"/console/set-password/{token}"
    client.post(url, data={"password": staff_password, "repeat": staff_password,
                           "csrf_token": csrf_token(client, url)})
    assert ("password_set", user_id, None, None) in log_rows(app)


@pytest.mark.parametrize("role", ["marketing", "auditor"])
def test_other_roles_cannot_post_the_new_user_forms(app, staff, role, csrf_token, make_user):
    client = staff(role)
    anne = make_user(app, "anne@example.com", "marketing")
    csrf = csrf_token(client, "/console/")
    for action in ("role", "enable", "reset-password"):
        assert client.post(f"/console/admin/users/{anne}/{action}",
                           data={"csrf_token": csrf, "role": "admin",
                                 "confirmed": "yes"}).status_code == 403
    assert account(app, "anne@example.com").role == "marketing"
