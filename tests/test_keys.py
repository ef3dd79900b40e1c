"""API keys and roles (REQ S-01): shown once, stored hashed, revocable; 401 and 403."""
import hashlib

import pytest
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.models import ApiKey
from consent_server.staff import keys


def create(runner, role, name="ops"):
    result = runner.invoke(args=["consent", "create-key", "--role", role, "--name", name])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_create_key_prints_the_secret_once_and_stores_only_its_hash(app, runner):
    """REQ S-01."""
    secret = create(runner, "auditor", "Revisor AS")
    assert secret.startswith("cs_")
    with app.app_context():
        key = db.session.execute(select(ApiKey)).scalar_one()
        assert key.role == "auditor" and key.name == "Revisor AS"
        assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        stored = [str(getattr(key, c.key)) for c in ApiKey.__table__.columns]
        assert all(secret not in value for value in stored)


def test_create_key_rejects_an_unknown_role(runner):
    result = runner.invoke(args=["consent", "create-key", "--role", "root", "--name", "x"])
    assert result.exit_code != 0


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditor_and_admin_may_verify(client, runner, role):
    secret = create(runner, role)
    resp = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 200
    assert resp.json["ok"] is True and resp.json["events"] == 0


def test_wrong_role_is_403(client, runner):
    secret = create(runner, "marketing")
    resp = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer cs_deadbeef_wrong",
    "Bearer not-even-our-format",
])
def test_missing_or_unknown_key_is_401(client, runner, header):
    create(runner, "auditor")
    headers = {"Authorization": header} if header is not None else {}
    resp = client.get("/api/v1/audit/verify", headers=headers)
    assert resp.status_code == 401 and resp.mimetype == "application/problem+json"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_right_prefix_with_a_wrong_secret_is_401(client, runner):
    secret = create(runner, "auditor")
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    resp = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401


def test_revoked_key_is_401(app, client, runner):
    secret = create(runner, "auditor", "old-auditor")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/audit/verify", headers=headers).status_code == 200
    result = runner.invoke(args=["consent", "revoke-key", "old-auditor"])
    assert result.exit_code == 0 and "revoked" in result.output
    resp = client.get("/api/v1/audit/verify", headers=headers)
    assert resp.status_code == 401 and "revoked" in resp.json["detail"]


def test_revoke_by_prefix_and_unknown_key(app, runner):
    secret = create(runner, "admin")
    prefix = secret.split("_")[1]
    assert runner.invoke(args=["consent", "revoke-key", prefix]).exit_code == 0
    missing = runner.invoke(args=["consent", "revoke-key", "nobody"])
    assert missing.exit_code != 0 and "0 keys match" in missing.output


def test_revoke_by_a_prefix_of_decimal_digits(app, runner):
    """A hex prefix is all decimal digits one time in 43: it names its key, not an id."""
    create(runner, "admin")
    with app.app_context():
        key = db.session.execute(select(ApiKey)).scalar_one()
        key.prefix = "45977094"
        db.session.commit()
        key_id = key.id
    result = runner.invoke(args=["consent", "revoke-key", "45977094"])
    assert result.exit_code == 0, result.output
    assert f"key {key_id} " in result.output


def test_authenticate_compares_in_constant_time(app, monkeypatch):
    """The stored hash is compared with hmac.compare_digest, also when no key matches."""
    calls = []
    real = keys.hmac.compare_digest
    monkeypatch.setattr(keys.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    with app.app_context():
        for header in ("Bearer cs_00000000_x", "Bearer nothing"):
            with pytest.raises(keys.Unauthorized):
                keys.authenticate(db.session, header, ("admin",))
    assert len(calls) == 2
