"""One subject's proof bundle (L-11, C-07): their events with inclusion proofs against one
signed checkpoint, checkable with the log's key alone, holding no other subject's event."""
import json

import pytest

from consent_server.extensions import db
from consent_server.ledger import bundles, transparency


@pytest.fixture
def two_subjects(app, publish, record_device):
    """Two devices whose events interleave in the ledger: (A's consent id, B's, B's events)."""
    with app.app_context():
        a = record_device()["consent_id"]
        b = record_device(choices={"analytics": False})
        b_events = [b]
        for flip in (False, True, False):
            record_device(consent_id=a, choices={"analytics": flip})
            b_events.append(record_device(consent_id=b["consent_id"],
                                          choices={"analytics": not flip}))
    return a, b["consent_id"], b_events


def test_a_subjects_bundle_proves_their_events_and_holds_no_one_elses(
        app, client, auditor_key, two_subjects, runner, tmp_path, run_log_verifier):
    """REQ L-11, C-07: A's four events, each in the signed checkpoint; not one of B's events or
    its consent id (a hash of B's only as the prev_hash A's hash covers); `flask consent
    verify-bundle` accepts it with the key alone."""
    a, b, b_events = two_subjects
    response = client.get(f"/api/v1/audit/subjects/{a}/proof", headers=auditor_key)
    assert response.status_code == 200
    found = response.json
    assert [e["subject"] for e in found["events"]] == [a] * 4
    assert found["tree_size"] == 8 and found["log_key"] == client.get(
        "/log/key").get_data(as_text=True).strip()
    text = response.get_data(as_text=True)
    for other in [b, *(e["event_id"] for e in b_events)]:
        assert other not in text
    # B's hashes appear only as the prev_hash of A's next event (which A's own hash covers).
    prev_hashes = {e["prev_hash"] for e in found["events"]}
    for other in (e["hash"] for e in b_events):
        assert text.count(other) == (1 if other in prev_hashes else 0)
    path = tmp_path / "bundle.json"
    path.write_text(text)
    (tmp_path / "log.key").write_text(found["log_key"])
    done = runner.invoke(args=["consent", "verify-bundle", str(path), "--key",
                               str(tmp_path / "log.key")])
    assert done.exit_code == 0 and done.output.startswith("ok: 4 events of one subject"), \
        done.output
    offline = run_log_verifier("bundle", tmp_path / "log.key", path)
    assert offline.returncode == 0 and offline.stdout.startswith("ok: 4 events"), offline.stderr
    assert client.get("/api/v1/audit/subjects/nobody/proof",
                      headers=auditor_key).status_code == 404
    assert client.get(f"/api/v1/audit/subjects/{a}/proof").status_code == 401


def _changed(bundle: dict, how: str) -> dict:
    changed = json.loads(json.dumps(bundle))
    event = changed["events"][1]
    if how == "choices":
        event["choices"] = {**event["choices"], "marketing": True}
    elif how == "proof":
        event["inclusion"][0] = event["inclusion"][1]
    elif how == "index":
        event["seq"] += 1
    elif how == "subject":
        event["subject"] = "someone-else"
    elif how == "checkpoint":
        changed["checkpoint"] = changed["checkpoint"].replace("\n8\n", "\n9\n", 1)
    elif how == "format":
        del changed["format"]
    return changed


@pytest.mark.parametrize("how", ["choices", "proof", "index", "subject", "checkpoint",
                                 "format"])
def test_a_changed_bundle_is_refused(app, two_subjects, how, runner, tmp_path,
                                     run_log_verifier):
    """REQ L-11: a changed event, proof, leaf, subject or checkpoint fails, in the service, in
    `flask consent verify-bundle` and in the offline script."""
    a, _, _ = two_subjects
    key = app.extensions["consent_signing_key"]
    with app.app_context():
        good = bundles.bundle(db.session, key, "127.0.0.1:5000/log", a)
        log_key = transparency.verifier_key(key, "127.0.0.1:5000/log")
        assert bundles.check(good, log_key).startswith("ok")
        with pytest.raises(ValueError):
            bundles.check(_changed(good, how), log_key)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_changed(good, how)))
    done = runner.invoke(args=["consent", "verify-bundle", str(path)])
    assert done.exit_code == 1 and "NOT OK" in done.output
    key_file = tmp_path / "log.key"
    key_file.write_text(log_key)
    offline = run_log_verifier("bundle", key_file, path)
    assert offline.returncode == 1 and "NOT OK" in offline.stderr
