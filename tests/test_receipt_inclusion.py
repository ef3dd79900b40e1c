"""Receipts that prove inclusion (L-08, L-10): every receipt names its leaf; the receipt check
proves its event in a signed checkpoint of the log, which the offline script re-checks."""
import json

import jwt

from consent_server.ledger import note, tree

VERIFY = "/api/v1/audit/receipts/verify"


def _claims(receipt: str) -> dict:
    return jwt.decode(receipt, options={"verify_signature": False})


def test_every_receipt_names_its_leaf(post_consent):
    """REQ L-08, L-10: leaf_index = seq - 1, under the receipt's signature."""
    for _ in range(3):
        claims = _claims(post_consent().json["receipt"])
        assert claims["leaf_index"] == claims["seq"] - 1


def test_a_receipt_is_proven_in_the_logs_checkpoint_and_in_any_later_one(
        client, post_consent, auditor_key, tmp_path, run_log_verifier):
    """REQ L-08, L-10: by default against the log's checkpoint now (returned with the proof);
    with a checkpoint given, against that one: a later one proves it, an earlier one cannot.
    The answer's proof and checkpoint check out offline."""
    before = client.get("/log/checkpoint").get_data(as_text=True)  # the empty log
    receipt = post_consent().json["receipt"]
    for _ in range(4):
        post_consent()
    later = client.get("/log/checkpoint").get_data(as_text=True)
    post_consent()
    answer = client.post(VERIFY, json={"receipt": receipt}, headers=auditor_key).json
    assert answer["valid"] and answer["in_checkpoint"] and answer["in_ledger"]
    _, size, root = note.parse_checkpoint(answer["checkpoint"].split("\n\n")[0] + "\n")
    proof = answer["inclusion"]
    assert size == 6 and proof["tree_size"] == 6 and proof["leaf_index"] == 0
    assert tree.verify_inclusion(0, 6, tree.leaf_hash(_claims(receipt)["hash"]),
                                 [note.unb64(h) for h in proof["proof"]], root)
    given = client.post(VERIFY, json={"receipt": receipt, "checkpoint": later},
                        headers=auditor_key).json
    assert given["valid"] and given["in_checkpoint"] and given["inclusion"]["tree_size"] == 5
    early = client.post(VERIFY, json={"receipt": receipt, "checkpoint": before},
                        headers=auditor_key).json
    assert not early["valid"] and not early["in_checkpoint"] and "older" in early["reason"]
    files = {"key.txt": client.get("/log/key").get_data(as_text=True), "r.jws": receipt,
             "cp.txt": later, "p.json": json.dumps(given["inclusion"])}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    done = run_log_verifier("receipt", *(tmp_path / name for name in files))
    assert done.returncode == 0 and done.stdout.startswith("ok: the receipt is genuine"), \
        done.stderr
    forged = receipt.rsplit(".", 1)[0] + "." + receipt.rsplit(".", 1)[1][::-1]
    (tmp_path / "r.jws").write_text(forged)
    assert run_log_verifier("receipt", *(tmp_path / name for name in files)).returncode == 1


def test_a_rewritten_event_is_not_in_the_checkpoint_kept_before(
        client, post_consent, auditor_key, rewrite_history):
    """REQ L-07, L-10: after a rewrite with every hash and the tree recomputed, the receipt of
    a later event fails against the checkpoint kept before the rewrite."""
    receipts = [post_consent().json["receipt"] for _ in range(4)]
    kept = client.get("/log/checkpoint").get_data(as_text=True)
    assert client.post(VERIFY, json={"receipt": receipts[0], "checkpoint": kept},
                       headers=auditor_key).json["in_checkpoint"]
    rewrite_history(2)
    answer = client.post(VERIFY, json={"receipt": receipts[0], "checkpoint": kept},
                         headers=auditor_key).json
    assert not answer["in_checkpoint"] and not answer["valid"]


def test_a_checkpoint_not_of_this_log_is_a_problem(client, post_consent, auditor_key):
    """REQ L-10: a malformed or foreign checkpoint is a 422 problem, not a 500."""
    receipt = post_consent().json["receipt"]
    cp = client.get("/log/checkpoint").get_data(as_text=True)
    for bad in ("nonsense", cp.replace("\u2014 ", "- "), cp.replace("/log\n", "/other\n", 1)):
        response = client.post(VERIFY, json={"receipt": receipt, "checkpoint": bad},
                               headers=auditor_key)
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
