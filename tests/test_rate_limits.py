"""Rate limits on public writes (S-03): per client network and per consent id, 429 problems."""
import json
import urllib.error
import urllib.request
import uuid

import pytest

from consent_server import ledger
from consent_server.extensions import db
from consent_server.http.limits import per_worker_problem

PROBLEM = "application/problem+json"


def _limited(app_factory, **limits):
    """A client of an app with other limits (on the database the `app` fixture empties)."""
    return app_factory(**limits).test_client()


def _assert_429(resp):
    assert resp.status_code == 429 and resp.mimetype == PROBLEM
    assert resp.json["status"] == 429
    assert int(resp.headers["Retry-After"]) >= 1


def test_the_default_is_60_writes_a_minute_per_address(app, client, config, choice):
    """REQ S-03: 60 public writes a minute from one address, then 429 with Retry-After."""
    assert config["RATELIMIT_PUBLIC"] == "60/minute"
    assert config["RATELIMIT_STORAGE_URL"] == "memory://"
    for _ in range(60):
        assert client.post("/api/v1/consents", json=choice).status_code == 201
    _assert_429(client.post("/api/v1/consents", json=choice))
    with app.app_context():
        assert ledger.verify(db.session).events == 60


def test_posts_and_deletes_share_one_budget_per_address(app, app_factory, choice):
    """REQ S-03: every public write draws on the same budget; reads are not limited; another
    address has its own."""
    client = _limited(app_factory, RATELIMIT_PUBLIC="3/minute")
    first = client.post("/api/v1/consents", json=choice).json["consent_id"]
    client.post("/api/v1/consents", json=choice)
    assert client.delete(f"/api/v1/consents/{first}").status_code == 200
    _assert_429(client.post("/api/v1/consents", json=choice))
    _assert_429(client.delete(f"/api/v1/consents/{first}"))
    for _ in range(5):
        assert client.get(f"/api/v1/consents/{first}").status_code == 200
        assert client.get("/api/v1/config").status_code == 200
    other = client.post("/api/v1/consents", json=choice, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 201


def test_an_ipv6_client_is_limited_by_its_64(app, app_factory, choice):
    """Addresses of one IPv6 /64 share a budget: rotating through them does not help."""
    client = _limited(app_factory, RATELIMIT_PUBLIC="2/minute")
    for host in ("1", "2"):
        resp = client.post("/api/v1/consents", json=choice,
                           environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{host}"})
        assert resp.status_code == 201
    _assert_429(client.post("/api/v1/consents", json=choice,
                            environ_base={"REMOTE_ADDR": "2001:db8:1:2:ffff::3"}))
    assert client.post("/api/v1/consents", json=choice,
                       environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"}).status_code == 201


def test_the_64s_of_one_ipv6_48_share_a_looser_second_limit(app, app_factory, choice):
    """REQ S-03: hopping between /64s inside one /48 gains nothing past the /48's budget,
    CONSENT_RATELIMIT_PUBLIC_SITE; another /48 and IPv4 clients have their own."""
    client = _limited(app_factory, RATELIMIT_PUBLIC="2/minute", RATELIMIT_PUBLIC_SITE="3/minute")
    for n in range(3):
        resp = client.post("/api/v1/consents", json=choice,
                           environ_base={"REMOTE_ADDR": f"2001:db8:7:{n}::1"})
        assert resp.status_code == 201
    _assert_429(client.post("/api/v1/consents", json=choice,
                            environ_base={"REMOTE_ADDR": "2001:db8:7:ff::1"}))
    for address in ("2001:db8:8:1::1", "192.0.2.44"):
        assert client.post("/api/v1/consents", json=choice,
                           environ_base={"REMOTE_ADDR": address}).status_code == 201


def test_one_consent_id_has_a_budget_of_its_own_from_any_address(app, app_factory, choice):
    """REQ S-03: writes to one consent from many addresses are limited per consent id."""
    client = _limited(app_factory, RATELIMIT_PER_CONSENT="2/minute")
    consent_id = client.post("/api/v1/consents", json=choice).json["consent_id"]
    for n in range(2):
        resp = client.post("/api/v1/consents", json={**choice, "consent_id": consent_id},
                           environ_base={"REMOTE_ADDR": f"10.1.{n}.1"})
        assert resp.status_code == 201
    _assert_429(client.post("/api/v1/consents", json={**choice, "consent_id": consent_id},
                            environ_base={"REMOTE_ADDR": "10.2.0.1"}))
    _assert_429(client.delete(f"/api/v1/consents/{consent_id}",
                              environ_base={"REMOTE_ADDR": "10.3.0.1"}))
    assert client.post("/api/v1/consents", json=choice).status_code == 201  # a new device


def _post(url: str, body: dict):
    request = urllib.request.Request(url + "/api/v1/consents", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_two_processes_share_one_limit_through_redis(app, gunicorn, tmp_path, choice,
                                                    shared_redis):
    """REQ S-03: two app processes with CONSENT_RATELIMIT_STORAGE_URL=redis://... count one
    budget: 4 writes a minute in all, whichever process takes them."""
    env = {"CONSENT_RATELIMIT_STORAGE_URL": shared_redis,
           "CONSENT_RATELIMIT_PUBLIC": "4/minute",
           "CONSENT_RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    with gunicorn(tmp_path / "a.log", **env) as one, gunicorn(tmp_path / "b.log", **env) as two:
        answers = [_post(server.url, choice)[0] for server in (one, two, one, two)]
        assert answers == [201] * 4
        for server in (one, two):
            status, headers = _post(server.url, choice)
            assert status == 429 and int(headers["Retry-After"]) >= 1
            assert headers["Content-Type"] == PROBLEM
    with app.app_context():
        assert ledger.verify(db.session).events == 4


def test_a_storage_outage_does_not_stop_consents(app, app_factory, caplog, choice):
    """With Redis unreachable, writes are still recorded (limits count in memory meanwhile),
    and the log says so without naming anyone."""
    client = _limited(app_factory, RATELIMIT_STORAGE_URL="redis://127.0.0.1:1/0")
    first = client.post("/api/v1/consents", json=choice)
    assert first.status_code == 201
    again = client.post("/api/v1/consents",
                        json={**choice, "consent_id": first.json["consent_id"]})
    assert again.status_code == 201
    assert first.json["consent_id"] not in caplog.text and "127.0.0.1" not in caplog.text
    assert "storage unreachable" in caplog.text


def test_during_an_outage_the_limits_still_hold_in_memory(app, app_factory, choice):
    """REQ S-03: with Redis unreachable each process counts in memory, so a client still gets
    no more than its budget."""
    client = _limited(app_factory, RATELIMIT_STORAGE_URL="redis://127.0.0.1:1/0",
                      RATELIMIT_PUBLIC="2/minute")
    for _ in range(2):
        assert client.post("/api/v1/consents", json=choice).status_code == 201
    _assert_429(client.post("/api/v1/consents", json=choice))


def test_each_app_counts_in_its_own_storage(app, app_factory, choice):
    """Two apps built in one process (as tests and the CLI build them) do not share counters
    or settings: a spent budget in one leaves the other's whole."""
    tight = _limited(app_factory, RATELIMIT_PUBLIC="1/minute")
    loose = _limited(app_factory, RATELIMIT_PUBLIC="5/minute")
    assert tight.post("/api/v1/consents", json=choice).status_code == 201
    _assert_429(tight.post("/api/v1/consents", json=choice))
    for _ in range(5):
        assert loose.post("/api/v1/consents", json=choice).status_code == 201
    _assert_429(loose.post("/api/v1/consents", json=choice))


def test_several_workers_refuse_per_process_limits_unless_told(app, gunicorn, tmp_path,
                                                               shared_redis):
    """REQ S-03: `make serve`'s configuration refuses memory:// with several workers (each
    would count on its own), and says what to set; with Redis it starts (one worker or
    CONSENT_RATELIMIT_PER_WORKER=1 too: the other tests' servers)."""
    refused = gunicorn(tmp_path / "refused.log", workers=2, CONSENT_RATELIMIT_PER_WORKER="")
    with pytest.raises(RuntimeError, match="memory:// while gunicorn runs 2 workers"):
        refused.start(wait=90)  # it exits at once; the margin is for a loaded machine
    assert "CONSENT_RATELIMIT_STORAGE_URL=redis://" in (tmp_path / "refused.log").read_text()
    server = gunicorn(tmp_path / "redis.log", workers=2, CONSENT_RATELIMIT_PER_WORKER="",
                      CONSENT_RATELIMIT_STORAGE_URL=shared_redis).start(wait=90)
    assert _post(server.url, {})[0] == 422  # it answers (the fixture stops it)


def test_the_per_worker_check_reads_the_environment():
    assert per_worker_problem(1, {}) is None
    assert "4 workers" in per_worker_problem(4, {"CONSENT_RATELIMIT_STORAGE_URL": "memory://"})
    assert per_worker_problem(4, {"CONSENT_RATELIMIT_PER_WORKER": "true"}) is None
    assert per_worker_problem(4, {"CONSENT_RATELIMIT_STORAGE_URL": "redis://r:6379"}) is None
