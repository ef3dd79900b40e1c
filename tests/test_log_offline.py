"""Checking the log with nothing but the standard library and the public key (L-07, L-10):
docs/verify_log.py (quoted in the README) run with `python -I -S`, and `flask consent verify
--from OLD --to NEW`, on honest and rewritten histories."""
import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_server.ledger import note

README = Path(__file__).resolve().parent.parent / "README.md"
LOG_VERIFIER = README.parent / "docs" / "verify_log.py"


@pytest.fixture
def kept(app, client, publish, record_device, tmp_path):
    """kept(name, more): record `more` choices, then keep the log's checkpoint in tmp_path/name;
    returns its path. kept.key is the verifier key's file."""

    def keep(name: str, more: int):
        with app.app_context():
            for _ in range(more):
                record_device()
        path = tmp_path / name
        path.write_text(client.get("/log/checkpoint").get_data(as_text=True), encoding="utf-8")
        return path

    keep.key = tmp_path / "log.key"
    keep.key.write_text(client.get("/log/key").get_data(as_text=True))
    return keep


def _save(client, tmp_path, name, url):
    path = tmp_path / name
    path.write_text(json.dumps(client.get(url).json))
    return path


def test_the_offline_script_checks_inclusion_and_consistency_with_the_stdlib_alone(
        client, kept, tmp_path, run_log_verifier):
    """REQ L-10, L-07: with `python -I -S` and the verifier key only: an event's inclusion in a
    signed checkpoint, and a later checkpoint's consistency with an earlier one."""
    old, new = kept("old.txt", 5), kept("new.txt", 4)
    for seq in (1, 5, 9):
        proof = _save(client, tmp_path, f"in{seq}.json",
                      f"/api/v1/log/proof/inclusion?seq={seq}&size=9")
        done = run_log_verifier("inclusion", kept.key, new, proof)
        assert done.returncode == 0 and done.stdout.startswith(f"ok: event {seq} "), done.stderr
    proof = _save(client, tmp_path, "c.json", "/api/v1/log/proof/consistency?from=5&to=9")
    done = run_log_verifier("consistency", kept.key, old, new, proof)
    assert done.returncode == 0 and "of size 9 extends its checkpoint of size 5" in done.stdout
    key_text = kept.key.read_text().strip()  # the key given inline works as well
    assert run_log_verifier("consistency", key_text, old, new, proof).returncode == 0


def test_the_offline_script_refuses_what_does_not_hold(client, kept, tmp_path,
                                                       run_log_verifier):
    """REQ L-10: a changed proof hash, event hash, checkpoint size or signature, or another key,
    and the script exits 1."""
    old, new = kept("old.txt", 3), kept("new.txt", 3)
    body = client.get("/api/v1/log/proof/inclusion?seq=2&size=6").json
    bad_hash = {**body, "proof": [body["proof"][0][:-4] + "AAA=", *body["proof"][1:]]}
    other_event = {**body, "event_hash": hashlib.sha256(b"another").hexdigest()}
    for name, changed in (("h.json", bad_hash), ("e.json", other_event)):
        (tmp_path / name).write_text(json.dumps(changed))
        done = run_log_verifier("inclusion", kept.key, new, tmp_path / name)
        assert done.returncode == 1 and "NOT OK" in done.stderr, name
    (tmp_path / "ok.json").write_text(json.dumps(body))
    forged = tmp_path / "forged.txt"
    forged.write_text(new.read_text().replace("\n6\n", "\n7\n", 1))
    assert run_log_verifier("inclusion", kept.key, forged, tmp_path / "ok.json").returncode == 1
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    name = kept.key.read_text().split("+")[0]
    other_key = note.verifier_key(name, stranger)
    done = run_log_verifier("inclusion", other_key, new, tmp_path / "ok.json")
    assert done.returncode == 1 and "no valid signature" in done.stderr
    consistency = _save(client, tmp_path, "c.json", "/api/v1/log/proof/consistency?from=3&to=6")
    assert run_log_verifier("consistency", kept.key, new, old, consistency).returncode == 1


def test_a_rewrite_after_a_kept_checkpoint_fails_consistency_offline_and_in_the_cli(
        app, client, kept, tmp_path, run_log_verifier, rewrite_history, runner):
    """REQ L-07, L-10: the operator rewrites event 2 and recomputes every hash and the tree;
    whoever kept the earlier checkpoint finds out, with the script or `verify --from --to`."""
    old, new = kept("old.txt", 4), kept("new.txt", 3)
    honest = runner.invoke(args=["consent", "verify", "--from", str(old), "--to", str(new)])
    assert honest.exit_code == 0 and "of size 7 extends its checkpoint of size 4" in \
        honest.output, honest.output
    rewrite_history(2)
    assert runner.invoke(args=["consent", "verify"]).exit_code == 0  # every hash recomputed
    rewritten = kept("rewritten.txt", 0)
    proof = _save(client, tmp_path, "c.json", "/api/v1/log/proof/consistency?from=4&to=7")
    done = run_log_verifier("consistency", kept.key, old, rewritten, proof)
    assert done.returncode == 1 and "history was rewritten" in done.stderr
    caught = runner.invoke(args=["consent", "verify", "--from", str(old), "--to",
                                 str(rewritten)])
    assert caught.exit_code == 1 and "history was rewritten" in caught.output
    swapped = runner.invoke(args=["consent", "verify", "--from", str(new), "--to", str(old)])
    assert swapped.exit_code == 1
    assert runner.invoke(args=["consent", "verify", "--from", str(old)]).exit_code == 2


def test_the_readme_quotes_the_script_and_its_ed25519_is_rfc_8032s():
    """REQ L-10: the README's block is the script's RFC 9162 part, verbatim; the script's
    pure-Python Ed25519 accepts what `cryptography` signs and nothing else."""
    quoted = re.search(r"<!-- offline-verify-log -->\n```python\n(.*?)```", README.read_text(),
                       re.S).group(1)
    assert quoted.strip() in LOG_VERIFIER.read_text() and "def verify_consistency" in quoted
    spec = importlib.util.spec_from_file_location("verify_log", LOG_VERIFIER)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    for message in (b"", b"consent.example.no/log\n5\n", bytes(range(256))):
        signature = key.sign(message)
        assert script.ed25519_verify(public, message, signature)
        assert not script.ed25519_verify(public, message + b"x", signature)
        for at in (0, 40):  # a bit of R, a bit of s
            changed = signature[:at] + bytes([signature[at] ^ 1]) + signature[at + 1:]
            assert not script.ed25519_verify(public, message, changed)
