"""Public keys, rotated without breaking proof (REQ S-07, L-08, L-07): `/.well-known/jwks.json`
lists every key that ever signed, with its kid and signing period, for anyone; after
`rotate-signing-key` and with the old private key gone, receipts and checkpoints of both keys
verify with an independent JOSE library (joserfc) through that key set, and on the server."""
import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from consent_server.extensions import db
from consent_server.ledger import chain, signing
from consent_server.staff import access_log

# joserfc prefers RFC 9864's "Ed25519" to RFC 8037's "EdDSA", which receipts carry (and which
# PyJWT, the server's library, names): the warning is about the name, not the signature.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


def test_the_key_set_is_public_open_to_any_origin_and_cached(app, client):
    resp = client.get("/.well-known/jwks.json", headers={"Origin": "https://elsewhere.example"})
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age=" in resp.headers["Cache-Control"] and "public" in resp.headers[
        "Cache-Control"]
    [jwk] = resp.json["keys"]
    key = app.extensions["consent_signing_key"]
    assert (jwk["kid"], jwk["x"], jwk["crv"], jwk["alg"]) == (key.kid, key.jwk()["x"],
                                                              "Ed25519", "EdDSA")
    assert jwk["signing_from"].endswith("Z") and "signing_until" not in jwk
    assert "d" not in jwk  # never the private part
    assert client.get("/.well-known/jwks.json").json == resp.json  # recorded once


def _consent(app, choice) -> dict:
    resp = app.test_client().post("/api/v1/consents", json=choice)
    assert resp.status_code == 201, resp.json
    return resp.json


def _checkpoint(app) -> dict:
    result = app.test_cli_runner().invoke(args=["consent", "checkpoint"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rotation_keeps_every_receipt_and_checkpoint_verifiable(app, app_factory, choice,
                                                               tmp_path, auditor_key):
    old = app_factory(SIGNING_KEY=signing.generate())
    old_kid = old.extensions["consent_signing_key"].kid
    receipt_old, checkpoint_old = _consent(old, choice)["receipt"], _checkpoint(old)

    new_file = tmp_path / "new_signing_key"
    rotated = old.test_cli_runner().invoke(args=["consent", "rotate-signing-key",
                                                 "--out", str(new_file)])
    assert rotated.exit_code == 0, rotated.output
    assert stat.S_IMODE(new_file.stat().st_mode) == 0o600
    # The servers restart with the new key; the old private key exists nowhere any more.
    new = app_factory(SIGNING_KEY=new_file.read_text().strip())
    new_kid = new.extensions["consent_signing_key"].kid
    assert new_kid != old_kid and new_kid in rotated.output
    with old.app_context():
        assert access_log.last(db.session, access_log.SIGNING_KEY_ROTATED).email == "cli"
    receipt_new, checkpoint_new = _consent(new, choice)["receipt"], _checkpoint(new)
    assert checkpoint_new["kid"] == new_kid and checkpoint_old["kid"] == old_kid

    published = new.test_client().get("/.well-known/jwks.json").json
    periods = {k["kid"]: k for k in published["keys"]}
    assert set(periods) >= {old_kid, new_kid}
    assert periods[old_kid]["signing_until"] <= periods[new_kid]["signing_from"]
    assert "signing_until" not in periods[new_kid]

    key_set = KeySet.import_key_set(published)  # the independent library, from the JWKS only
    for receipt, kid in ((receipt_old, old_kid), (receipt_new, new_kid)):
        verified = jws.deserialize_compact(receipt, key_set, algorithms=["EdDSA"])
        assert verified.headers()["kid"] == kid
        assert json.loads(verified.payload)["seq"] >= 1
    for cp in (checkpoint_old, checkpoint_new):
        public = key_set.get_by_kid(cp["kid"]).get_op_key("verify")
        statement = {k: cp[k] for k in ("seq", "hash", "time", "kid")}
        public.verify(signing.unb64url(cp["signature"]), chain.canonical(statement))  # raises

    api = new.test_client()
    for receipt in (receipt_old, receipt_new):
        check = api.post("/api/v1/audit/receipts/verify", json={"receipt": receipt},
                         headers=auditor_key).json
        assert check["valid"] is True, check
    for cp in (checkpoint_old, checkpoint_new):
        kept = tmp_path / f"{cp['kid']}.json"
        kept.write_text(json.dumps(cp))
        result = new.test_cli_runner().invoke(args=["consent", "verify", "--checkpoint",
                                                    str(kept)])
        assert result.exit_code == 0, result.output
    assert [k["kid"] for k in api.get("/api/v1/audit/keys", headers=auditor_key).json[
        "keys"]] == [k["kid"] for k in published["keys"]]


def test_a_signature_by_a_key_never_published_is_still_refused(app, app_factory, choice,
                                                               auditor_key):
    stranger = app_factory(SIGNING_KEY=signing.generate())
    receipt = _consent(stranger, choice)["receipt"]  # signed, but its key was never published
    check = app.test_client().post("/api/v1/audit/receipts/verify", json={"receipt": receipt},
                                   headers=auditor_key).json
    assert check["valid"] is False and "key" in check["reason"]


def test_rotating_a_key_not_read_from_the_instance_folder_needs_out(runner):
    result = runner.invoke(args=["consent", "rotate-signing-key"])
    assert result.exit_code == 1 and "--out" in result.output


def test_rotating_the_instance_file_keeps_the_retired_one_aside(app_factory, tmp_path,
                                                               monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "signing_key").write_text(signing.generate() + "\n")
    monkeypatch.setenv("CONSENT_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("CONSENT_SIGNING_KEY", raising=False)
    app = app_factory(SIGNING_KEY=None)  # read from instance/signing_key
    old_kid = app.extensions["consent_signing_key"].kid
    result = app.test_cli_runner().invoke(args=["consent", "rotate-signing-key"])
    assert result.exit_code == 0, result.output
    retired = instance / f"signing_key.retired-{old_kid}"
    assert retired.is_file() and stat.S_IMODE((instance / "signing_key").stat().st_mode) == 0o600
    fresh = signing.SigningKey(signing.parse((instance / "signing_key").read_text()))
    assert fresh.kid != old_kid
    assert app_factory(SIGNING_KEY=None).extensions["consent_signing_key"].kid == fresh.kid


def _snippet(marker: str) -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    return re.search(rf"<!-- {marker} -->\n```python\n(.*?)```", readme, re.S).group(1)


def test_the_readmes_offline_snippets_take_the_key_set(app, app_factory, choice, tmp_path):
    """The README's checkpoint and receipt snippets, run as written on files an auditor keeps:
    a receipt and a checkpoint of a retired key, checked against the key set alone."""
    old = app_factory(SIGNING_KEY=signing.generate())
    (tmp_path / "receipt.txt").write_text(_consent(old, choice)["receipt"])
    (tmp_path / "checkpoint.json").write_text(json.dumps(_checkpoint(old)))
    result = old.test_cli_runner().invoke(args=["consent", "rotate-signing-key", "--out",
                                                str(tmp_path / "new_key")])
    assert result.exit_code == 0, result.output
    new = app_factory(SIGNING_KEY=(tmp_path / "new_key").read_text().strip())
    (tmp_path / "jwks.json").write_text(new.test_client().get("/.well-known/jwks.json").text)
    kid = old.extensions["consent_signing_key"].kid
    for marker, says in (("offline-checkpoint", f"signed by {kid}"),
                         ("offline-receipt", f"signed by {kid}")):
        (tmp_path / f"{marker}.py").write_text(_snippet(marker))
        run = subprocess.run([sys.executable, f"{marker}.py"], cwd=tmp_path, text=True,
                             capture_output=True, timeout=60)
        assert run.returncode == 0 and says in run.stdout, (marker, run.stderr)
    forged = json.loads((tmp_path / "checkpoint.json").read_text())
    forged["seq"] += 1
    (tmp_path / "checkpoint.json").write_text(json.dumps(forged))
    run = subprocess.run([sys.executable, "offline-checkpoint.py"], cwd=tmp_path, text=True,
                         capture_output=True, timeout=60)
    assert run.returncode != 0 and "InvalidSignature" in run.stderr
