"""Proof a third party can check: the signing key, signed checkpoints (L-07), receipts (L-08),
and roles on every audit route."""
import json
import re
import subprocess
import sys

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update

from consent_server import ledger
from consent_server.extensions import db
from consent_server.ledger import chain, signing, treestore
from consent_server.models import ChainHead, ConsentEvent
from consent_server.staff import keys


def test_keys_are_a_jwk_set_of_the_signing_key(app, client, auditor_key):
    resp = client.get("/api/v1/audit/keys", headers=auditor_key)
    assert resp.status_code == 200
    (jwk,) = resp.json["keys"]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    key = app.extensions["consent_signing_key"]
    assert jwk["kid"] == key.kid and signing.unb64url(jwk["x"]) == key.public_bytes


def test_a_checkpoint_is_a_signed_statement_of_the_head(app, client, auditor_key, seed):
    """REQ L-07."""
    seed(app)
    cp = client.get("/api/v1/audit/checkpoint", headers=auditor_key).json
    with app.app_context():
        head = db.session.get(ChainHead, 1)
        assert (cp["seq"], cp["hash"]) == (head.seq, head.hash)
    jwk = client.get("/api/v1/audit/keys", headers=auditor_key).json["keys"][0]
    public = Ed25519PublicKey.from_public_bytes(signing.unb64url(jwk["x"]))
    statement = {k: cp[k] for k in ("seq", "hash", "time", "kid")}
    public.verify(signing.unb64url(cp["signature"]), chain.canonical(statement))  # raises if bad


def test_a_rewritten_history_passes_plain_verify_but_not_the_checkpoint(
        app, client, auditor_key, runner, tmp_path, run_snippet, seed, rewrite_history):
    """REQ L-07: every hash recomputed: `verify` passes, `verify --checkpoint` fails, and so does
    the README's offline snippet with the checkpoint."""
    seed(app)
    kept = tmp_path / "checkpoint.json"
    result = runner.invoke(args=["consent", "checkpoint", "--out", str(kept)])
    assert result.exit_code == 0, result.output
    export = tmp_path / "events.ndjson"
    export.write_text(client.get("/api/v1/audit/events",
                                 headers=auditor_key).get_data(as_text=True))
    good = runner.invoke(args=["consent", "verify", "--checkpoint", str(kept)])
    assert good.exit_code == 0 and "extends the checkpoint at seq 5" in good.output, good.output
    assert run_snippet(tmp_path, export, kept).returncode == 0

    rewrite_history(2)
    plain = runner.invoke(args=["consent", "verify"])
    assert plain.exit_code == 0, plain.output
    caught = runner.invoke(args=["consent", "verify", "--checkpoint", str(kept)])
    assert caught.exit_code == 1 and "history was rewritten" in caught.output
    export.write_text(client.get("/api/v1/audit/events",
                                 headers=auditor_key).get_data(as_text=True))
    offline = run_snippet(tmp_path, export, kept)
    assert offline.returncode == 1 and "does not extend checkpoint 5" in offline.stderr


def test_a_later_ledger_still_extends_an_earlier_checkpoint(app, client, auditor_key, runner,
                                                            tmp_path, choice, seed):
    """REQ L-07: appends after the checkpoint are fine; a ledger cut short is not."""
    seed(app)
    kept = tmp_path / "cp.json"
    kept.write_text(json.dumps(client.get("/api/v1/audit/checkpoint", headers=auditor_key).json))
    assert client.post("/api/v1/consents", json=choice).status_code == 201
    assert runner.invoke(args=["consent", "verify", "--checkpoint", str(kept)]).exit_code == 0
    with app.app_context():
        db.session.execute(ConsentEvent.__table__.delete().where(ConsentEvent.seq >= 5))
        db.session.execute(update(ChainHead).values(seq=4, hash=db.session.execute(
            select(ConsentEvent.hash).where(ConsentEvent.seq == 4)).scalar_one()))
        db.session.commit()
        ledger.rebuild_state(db.session)
        treestore.rebuild(db.session)  # as the operator who cut it would
    cut = runner.invoke(args=["consent", "verify", "--checkpoint", str(kept)])
    assert cut.exit_code == 1 and "no event 5" in cut.output


@pytest.mark.parametrize("change", ["signature", "seq", "not json", "other key"])
def test_a_forged_checkpoint_is_refused(app, runner, tmp_path, change, seed):
    """REQ L-07."""
    seed(app)
    with app.app_context():
        cp = signing.checkpoint(db.session, app.extensions["consent_signing_key"])
    if change == "signature":
        tail = "AAAA" if cp["signature"][-4:] != "AAAA" else "BBBB"
        cp["signature"] = cp["signature"][:-4] + tail
    elif change == "seq":
        cp["seq"] -= 1
    elif change == "other key":
        other = signing.SigningKey(signing.parse(signing.generate()))
        cp = {**{k: cp[k] for k in ("seq", "hash", "time")}, "kid": other.kid}
        cp["signature"] = other.sign(chain.canonical(cp))
    kept = tmp_path / "cp.json"
    kept.write_text("{nope" if change == "not json" else json.dumps(cp))
    result = runner.invoke(args=["consent", "verify", "--checkpoint", str(kept)])
    assert result.exit_code == 1 and "CHECKPOINT not extended" in result.output


def test_every_consent_answer_carries_a_receipt_of_its_event(app, client, post_consent,
                                                             auditor_key):
    """REQ L-08: a compact JWS (EdDSA) over subject, seq, hash, time, choices, notice version;
    checkable offline with the public key, and by the server against the ledger."""
    resp = post_consent()
    body = resp.json
    receipt = body["receipt"]
    assert receipt.count(".") == 2
    jwk = client.get("/api/v1/audit/keys", headers=auditor_key).json["keys"][0]
    header = jwt.get_unverified_header(receipt)
    assert header["alg"] == "EdDSA" and header["kid"] == jwk["kid"]
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(receipt, public, algorithms=["EdDSA"])
    assert claims["sub"] == body["consent_id"] and claims["hash"] == body["hash"]
    assert claims["choices"] == body["choices"] and claims["policy_version"] == "1"
    assert claims["jti"] == body["event_id"] and claims["action"] == "grant"
    with app.app_context():
        event = db.session.execute(select(ConsentEvent).where(
            ConsentEvent.event_id == body["event_id"])).scalar_one()
        assert (claims["seq"], claims["text_hash"]) == (event.seq, event.text_hash)
        assert claims["recorded_at"] == chain.timestamp(event.recorded_at)
    check = client.post("/api/v1/audit/receipts/verify", json={"receipt": receipt},
                        headers=auditor_key)
    assert check.status_code == 200 and check.json["valid"] is True, check.json
    # a retry of the same event id answers with a receipt of the first event
    event_id = "4b0f8d5e-7c1a-4d8e-9a55-0123456789ab"
    first = post_consent(event_id=event_id).json
    again = post_consent(event_id=event_id).json
    assert jwt.decode(again["receipt"], public, algorithms=["EdDSA"])["hash"] == first["hash"]


def _altered(receipt: str, **claims) -> str:
    """The receipt with its payload changed and the signature kept."""
    header, payload, signature = receipt.split(".")
    data = json.loads(signing.unb64url(payload))
    data.update(claims)
    return ".".join([header, signing.b64url(json.dumps(data).encode()), signature])


def test_forged_or_altered_receipts_are_refused(app, client, post_consent, auditor_key):
    """REQ L-08."""
    body = post_consent().json
    receipt = body["receipt"]
    other = signing.SigningKey(signing.parse(signing.generate()))
    claims = jwt.decode(receipt, app.extensions["consent_signing_key"].public, algorithms=["EdDSA"])
    forged_same_kid = jwt.encode(claims, other.private, algorithm="EdDSA",
                                 headers={"kid": app.extensions["consent_signing_key"].kid})
    forged = jwt.encode(claims, other.private, algorithm="EdDSA", headers={"kid": other.kid})
    unsigned = jwt.encode(claims, None, algorithm="none")
    cases = {
        "altered choices": (_altered(receipt, choices={**claims["choices"], "marketing": True}),
                            "signature"),
        "altered seq": (_altered(receipt, seq=claims["seq"] + 1), "signature"),
        "another key, our kid": (forged_same_kid, "signature"),
        "another key": (forged, "key"),
        "unsigned": (unsigned, "key"),
        "garbage": ("not.a.receipt", "JWS"),
    }
    for name, (token, reason) in cases.items():
        resp = client.post("/api/v1/audit/receipts/verify", json={"receipt": token},
                           headers=auditor_key)
        assert resp.status_code == 200, (name, resp.json)
        assert resp.json["valid"] is False and reason in resp.json["reason"], (name, resp.json)


def test_a_genuine_receipt_whose_event_was_edited_or_is_missing_is_refused(
        app, client, post_consent, auditor_key):
    """REQ L-08: the receipt is checked against the ledger, not only its signature."""

    body = post_consent().json
    with app.app_context():
        db.session.execute(update(ConsentEvent).where(ConsentEvent.event_id == body["event_id"])
                           .values(choices='{"analytics":false,"marketing":true,"necessary":true}'))
        db.session.commit()
    resp = client.post("/api/v1/audit/receipts/verify", json={"receipt": body["receipt"]},
                       headers=auditor_key).json
    assert resp["valid"] is False and resp["signature_ok"] is True and "choices" in resp["reason"]
    key = app.extensions["consent_signing_key"]
    claims = jwt.decode(body["receipt"], key.public, algorithms=["EdDSA"])
    ghost = jwt.encode({**claims, "jti": "00000000-0000-4000-8000-000000000001"}, key.private,
                       algorithm="EdDSA", headers={"kid": key.kid})
    resp = client.post("/api/v1/audit/receipts/verify", json={"receipt": ghost},
                       headers=auditor_key).json
    assert resp["valid"] is False and "not in the ledger" in resp["reason"]


@pytest.mark.parametrize("body", [{}, {"receipt": 5}, {"receipt": "x", "more": 1}, []])
def test_a_malformed_receipt_request_is_a_422(client, auditor_key, body):
    resp = client.post("/api/v1/audit/receipts/verify", json=body, headers=auditor_key)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"


AUDIT_ROUTES = [("get", "/api/v1/audit/verify"), ("get", "/api/v1/audit/events"),
                ("get", "/api/v1/audit/events?format=csv"), ("get", "/api/v1/audit/keys"),
                ("get", "/api/v1/audit/checkpoint"), ("post", "/api/v1/audit/receipts/verify"),
                ("get", "/api/v1/audit/stats"), ("get", "/api/v1/audit/subjects/unknown-id"),
                ("get", "/api/v1/audit/subjects/unknown-id?format=html")]


@pytest.mark.parametrize("method, path", AUDIT_ROUTES)
def test_every_audit_route_needs_an_auditor_or_admin_key(app, client, method, path):
    """401 without a key, with an unknown or a revoked key; 403 for the marketing role;
    auditor and admin get in."""
    with app.app_context():
        marketing = keys.create_key(db.session, "m", "marketing")[1]
        revoked_key, revoked = keys.create_key(db.session, "r", "auditor")
        keys.revoke_key(db.session, str(revoked_key.id))
        auditor = keys.create_key(db.session, "a", "auditor")[1]
        admin = keys.create_key(db.session, "x", "admin")[1]
    call = getattr(client, method)
    kwargs = {"json": {"receipt": "a.b.c"}} if method == "post" else {}
    for secret, status in ((None, 401), ("cs_00000000_nothing", 401), (revoked, 401),
                           (marketing, 403)):
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        resp = call(path, headers=headers, **kwargs)
        assert resp.status_code == status, (secret, resp.status_code)
        assert resp.mimetype == "application/problem+json"
    for secret in (auditor, admin):
        resp = call(path, headers={"Authorization": f"Bearer {secret}"}, **kwargs)
        assert resp.status_code in (200, 404), resp.get_data(as_text=True)
        assert resp.status_code == (404 if "unknown-id" in path else 200)


def test_the_readme_checks_a_checkpoints_signature_offline(app, client, auditor_key, tmp_path,
                                                           readme, seed):
    """REQ L-07, S-07: the README's few lines with `cryptography` check a checkpoint against the
    published key set, and refuse an altered one."""
    text = readme.read_text()
    found = re.search(r"Checking the signature offline.*?```python\n(.*?)```", text, re.S)
    snippet = found.group(1)
    (tmp_path / "check.py").write_text(snippet)
    seed(app)
    cp = client.get("/api/v1/audit/checkpoint", headers=auditor_key).json
    (tmp_path / "jwks.json").write_text(client.get("/.well-known/jwks.json").get_data(
        as_text=True))
    for checkpoint, ok in ((cp, True), ({**cp, "seq": cp["seq"] - 1}, False)):
        (tmp_path / "checkpoint.json").write_text(json.dumps(checkpoint))
        done = subprocess.run([sys.executable, "check.py"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert (done.returncode == 0) is ok, done.stderr
        if not ok:
            assert "InvalidSignature" in done.stderr
