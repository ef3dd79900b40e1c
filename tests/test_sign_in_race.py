"""The sign-in throttle under parallel guesses (issue 19, item 1): every try is counted before its
password is checked, in one statement, so a burst gets no more checks than the throttle allows."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from consent_server.console import auth
from consent_server.extensions import db
from consent_server.models import SignInThrottle, utcnow
from consent_server.staff import users

BURST = 40


@pytest.fixture
def counted_checks(monkeypatch):
    """The number of password checks made (a list that grows by one per check)."""
    made, lock, real = [], threading.Lock(), users.check_password_hash

    def check(hashed, password):
        with lock:
            made.append(1)
        return real(hashed, password)

    monkeypatch.setattr(users, "check_password_hash", check)
    return made


@pytest.fixture
def served(app_factory):
    """An app whose pool has a connection for each thread's reads and one for its write, as a
    production worker of BURST threads has (so threads wait on the throttle, not the pool)."""
    return app_factory(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 2 * BURST, "max_overflow": 0})


def test_forty_parallel_wrong_passwords_get_five_checks_and_the_right_one_waits(
        served, monkeypatch, make_user, csrf_token, staff_password, counted_checks):
    """REQ S-03: 40 wrong passwords at once, then the right one: at most FREE_ACCOUNT passwords
    are checked, the rest are refused with 429 (never a 500), and the right password waits."""
    frozen = utcnow()  # one instant: the first wait (1 s) cannot pass during the burst
    monkeypatch.setattr(auth, "utcnow", lambda: frozen)
    app = served
    make_user(app, "anne@example.com", "admin")
    clients = [app.test_client() for _ in range(BURST)]
    forms = [{"email": "anne@example.com", "password": f"wrong password {n}",
              "csrf_token": csrf_token(client)} for n, client in enumerate(clients)]
    start = threading.Barrier(BURST)

    def guess(n):
        start.wait()
        return clients[n].post("/console/sign-in", data=forms[n]).status_code

    with ThreadPoolExecutor(BURST) as pool:
        statuses = list(pool.map(guess, range(BURST)))
    assert sorted(set(statuses)) == [401, 429], statuses
    assert statuses.count(401) == users.FREE_ACCOUNT == len(counted_checks)
    right = app.test_client()
    resp = right.post("/console/sign-in", data={"email": "anne@example.com",
                                                "password": staff_password,
                                                "csrf_token": csrf_token(right)})
    assert resp.status_code == 429 and len(counted_checks) == users.FREE_ACCOUNT
    with app.app_context():
        counters = db.session.query(SignInThrottle.failures).all()
        assert sorted(f for (f,) in counters) == [users.FREE_ACCOUNT] * 2  # account and IP


def test_parallel_guesses_from_one_ip_across_accounts_get_twenty_checks(served, counted_checks):
    """REQ S-03: the per-network counter holds under a burst too (different addresses)."""
    app, now = served, utcnow()

    def guess(n):
        with app.app_context():
            try:
                users.authenticate(db.session, app.secret_key, f"guess{n}@example.com",
                                   "wrong password!", "198.51.100.9", now)
            except users.Throttled:
                return 429
            except users.WrongCredentials:
                return 401
            finally:
                db.session.remove()

    with ThreadPoolExecutor(BURST) as pool:
        statuses = list(pool.map(guess, range(BURST)))
    assert statuses.count(401) == users.FREE_IP == len(counted_checks)
    assert statuses.count(429) == BURST - users.FREE_IP


def test_addresses_of_one_ipv6_64_share_the_sign_in_counter(app, client, make_user,
                                                            csrf_token, staff_password):
    """REQ S-03: the IP counter counts an IPv6 client's /64, not each of its addresses."""
    make_user(app, "anne@example.com", "admin")
    for n in range(users.FREE_IP):
        resp = client.post("/console/sign-in", data={
            "email": f"guess{n}@example.com", "password": "wrong password!",
            "csrf_token": csrf_token(client)},
            environ_base={"REMOTE_ADDR": f"2001:db8:5:6::{n + 1}"})
        assert resp.status_code == 401
    resp = client.post("/console/sign-in", data={
        "email": "anne@example.com", "password": staff_password,
        "csrf_token": csrf_token(client)}, environ_base={"REMOTE_ADDR": "2001:db8:5:6:ffff::1"})
    assert resp.status_code == 429
    resp = client.post("/console/sign-in", data={
        "email": "anne@example.com", "password": staff_password,
        "csrf_token": csrf_token(client)}, environ_base={"REMOTE_ADDR": "2001:db8:5:7::1"})
    assert resp.status_code == 302
