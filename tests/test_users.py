"""Staff accounts: create, disable, passwords, one-time links, sign-in throttling."""
from datetime import timedelta

import pytest

from consent_server.errors import Invalid
from consent_server.extensions import db
from consent_server.models import SignInThrottle, StaffUser, utcnow
from consent_server.staff import users

PASSWORD = "correct horse battery"


def make(app, email="anne@example.com", role="auditor", password=PASSWORD):
    with app.app_context():
        return users.create_user(db.session, email, role, password, utcnow()).id


def auth(app, email="anne@example.com", password=PASSWORD, ip="192.0.2.7", now=None):
    with app.app_context():
        user = users.authenticate(db.session, app.secret_key, email, password, ip,
                                  now or utcnow())
        return user.id


def test_password_is_stored_as_scrypt_hash_only(app):
    """The password itself is never stored: a salted scrypt hash is."""
    make(app)
    with app.app_context():
        user = users.find(db.session, "anne@example.com")
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash


def test_address_is_normalised_and_unique(app):
    make(app, email="  Anne@EXAMPLE.com ")
    with app.app_context():
        assert users.find(db.session, "Anne@example.com").email == "Anne@example.com"
        with pytest.raises(Invalid):
            users.create_user(db.session, "Anne@Example.COM", "admin", PASSWORD, utcnow())


@pytest.mark.parametrize("email, role, password", [
    ("not an address", "admin", PASSWORD), ("a@example.com", "root", PASSWORD),
    ("a@example.com", "admin", "short")])
def test_bad_accounts_are_refused(app, email, role, password):
    with app.app_context(), pytest.raises(Invalid):
        users.create_user(db.session, email, role, password, utcnow())


def test_sign_in_with_the_right_password(app):
    user_id = make(app)
    assert auth(app) == user_id


@pytest.mark.parametrize("email, password", [
    ("anne@example.com", "wrong password!"), ("nobody@example.com", PASSWORD),
    ("not-an-address", PASSWORD)])
def test_wrong_address_or_password_is_one_answer(app, email, password):
    """The error does not say which of address and password was wrong."""
    make(app)
    with pytest.raises(users.WrongCredentials) as error:
        auth(app, email=email, password=password)
    assert str(error.value) == "Wrong address or password."


def test_disabled_account_and_account_without_password_cannot_sign_in(app):
    make(app)
    make(app, email="bob@example.com", password=None)
    with app.app_context():
        users.disable_user(db.session, "anne@example.com", utcnow())
    with pytest.raises(users.WrongCredentials):
        auth(app)
    with pytest.raises(users.WrongCredentials):
        auth(app, email="bob@example.com", password="")


def test_failures_are_counted_per_account_then_slowed(app):
    """After FREE_ACCOUNT failures, even the right password waits; the wait doubles."""
    make(app)
    now = utcnow()
    for _ in range(users.FREE_ACCOUNT):
        with pytest.raises(users.WrongCredentials):
            auth(app, password="wrong password!", now=now)
    with pytest.raises(users.Throttled) as error:
        auth(app, now=now)
    assert error.value.wait == 1
    later = now + timedelta(seconds=2)
    with pytest.raises(users.WrongCredentials):
        auth(app, password="wrong password!", now=later)
    with pytest.raises(users.Throttled) as error:
        auth(app, now=later)
    assert error.value.wait == 2
    assert auth(app, now=later + timedelta(seconds=3))  # waited: the right password opens


def test_unknown_addresses_are_throttled_like_known_ones(app):
    """The throttle tells nobody whether an address exists."""
    make(app)
    now = utcnow()
    for email in ("anne@example.com", "ghost@example.com"):
        for _ in range(users.FREE_ACCOUNT):
            with pytest.raises(users.WrongCredentials):
                auth(app, email=email, password="wrong password!", now=now)
        with pytest.raises(users.Throttled):
            auth(app, email=email, now=now)


def test_failures_are_counted_per_ip_across_accounts(app):
    """One IP trying many addresses is slowed after FREE_IP failures, another IP is not."""
    make(app)
    now = utcnow()
    for n in range(users.FREE_IP):
        with pytest.raises(users.WrongCredentials):
            auth(app, email=f"guess{n}@example.com", ip="198.51.100.1", now=now)
    with pytest.raises(users.Throttled):
        auth(app, ip="198.51.100.1", now=now)
    assert auth(app, ip="198.51.100.2", now=now)


def test_success_resets_the_account_counter_and_old_failures_are_forgotten(app):
    make(app)
    now = utcnow()
    for _ in range(users.FREE_ACCOUNT - 1):
        with pytest.raises(users.WrongCredentials):
            auth(app, password="wrong password!", now=now)
    auth(app, now=now)
    for _ in range(users.FREE_ACCOUNT - 1):
        with pytest.raises(users.WrongCredentials):
            auth(app, password="wrong password!", now=now)
    auth(app, now=now)  # not throttled: the success before started the count again
    for _ in range(users.FREE_ACCOUNT):
        with pytest.raises(users.WrongCredentials):
            auth(app, password="wrong password!", now=now)
    assert auth(app, now=now + users.WINDOW + timedelta(seconds=1))


def test_throttle_keys_hold_no_address_or_ip(app):
    """REQ S-06: the counters are keyed hashes, not the address or IP typed."""
    make(app)
    with pytest.raises(users.WrongCredentials):
        auth(app, password="wrong password!", ip="203.0.113.9")
    with app.app_context():
        keys = [row.key for row in db.session.query(SignInThrottle.key)]
    assert len(keys) == 2
    assert not any("anne" in k or "example" in k or "203.0.113" in k for k in keys)


def test_set_password_link_is_single_use(app):
    user_id = make(app, password=None)
    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        token = users.set_password_token(app.secret_key, user)
        assert users.user_for_token(db.session, app.secret_key, token).id == user_id
        assert users.user_for_token(db.session, "another secret", token) is None
        assert users.user_for_token(db.session, app.secret_key, token + "x") is None
        users.set_password(db.session, user, PASSWORD)
        assert users.user_for_token(db.session, app.secret_key, token) is None
    assert auth(app) == user_id


def test_set_password_link_of_a_disabled_account_is_void(app):
    user_id = make(app, password=None)
    with app.app_context():
        token = users.set_password_token(app.secret_key, db.session.get(StaffUser, user_id))
        users.disable_user(db.session, str(user_id), utcnow())
        assert users.user_for_token(db.session, app.secret_key, token) is None


def test_create_user_command_asks_for_the_password(app, runner):
    result = runner.invoke(args=["consent", "create-user", "--email", "cli@example.com",
                                 "--role", "marketing"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert auth(app, email="cli@example.com")


def test_create_user_command_prints_a_one_time_link(app, runner):
    result = runner.invoke(args=["consent", "create-user", "--email", "link@example.com",
                                 "--role", "admin", "--link"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith(app.config["PUBLIC_URL"] + "/console/set-password/")
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        assert users.user_for_token(db.session, app.secret_key, token).email == "link@example.com"


def test_create_user_command_refuses_a_duplicate_and_a_bad_role(app, runner):
    make(app, email="dup@example.com")
    result = runner.invoke(args=["consent", "create-user", "--email", "dup@example.com",
                                 "--role", "admin", "--link"])
    assert result.exit_code == 1 and "exists" in result.output
    result = runner.invoke(args=["consent", "create-user", "--email", "x@example.com",
                                 "--role", "root", "--link"])
    assert result.exit_code == 2


def test_disable_user_command(app, runner):
    make(app)
    result = runner.invoke(args=["consent", "disable-user", "anne@example.com"])
    assert result.exit_code == 0 and "disabled" in result.output
    with pytest.raises(users.WrongCredentials):
        auth(app)
    result = runner.invoke(args=["consent", "disable-user", "nobody@example.com"])
    assert result.exit_code == 1
