"""A witness of the log (L-10, L-07): `flask consent witness` cosigns the live server's
checkpoints while each extends the last, the server serves the cosignatures of the witnesses
CONSENT_WITNESSES names, and after a rewrite of history the witness refuses."""
import urllib.request

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_server.ledger import cosign, note, signing, tree
from consent_server.ledger import witness as witnessing

NAME = "dpo.example.no/witness"
SEED = signing.generate()
PUBLIC = signing.parse(SEED).public_key().public_bytes_raw()


@pytest.fixture
def app_settings(live_settings):
    """The app live_server serves, expecting the test's witness."""
    return {**live_settings, "WITNESSES": cosign.verifier_key(NAME, PUBLIC)}


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the test server
        return response.read().decode()


def test_the_witness_cosigns_a_growing_log_and_refuses_a_rewritten_one(
        app, live_server, publish, record_device, runner, tmp_path, rewrite_history):
    """REQ L-10, L-07: cosigned while consistent (the server serves the cosignature as an extra
    line of its checkpoint); after every hash and the tree are recomputed, the witness refuses
    the next checkpoint and keeps the last good one."""
    url = app.config["PUBLIC_URL"]
    key_file = tmp_path / "witness.key"
    key_file.write_text(SEED)
    state = tmp_path / "state"

    def run():
        return runner.invoke(args=["consent", "witness", "--log", url, "--state", str(state),
                                   "--key", str(key_file), "--name", NAME])

    def record(n):
        with app.app_context():
            for _ in range(n):
                record_device()

    record(5)
    first = run()
    assert first.exit_code == 0, first.output
    served = _get(f"{url}/log/checkpoint")
    assert first.output.splitlines()[0] in served.splitlines()
    text, signatures = note.signature_lines(served)
    witness = cosign.Witness.parse(cosign.verifier_key(NAME, PUBLIC))
    assert [witness.check(text, value) for name, value in signatures if name == NAME][0]
    assert note.parse_checkpoint(text)[1] == 5
    record(3)
    second = run()
    assert second.exit_code == 0, second.output
    assert "\n8\n" in (state / "checkpoint").read_text()
    rewrite_history(3)
    refused = run()
    assert refused.exit_code == 1 and "REFUSED: fork" in refused.output, refused.output
    assert "\n8\n" in (state / "checkpoint").read_text()  # the last good one is kept


def test_rollbacks_forks_and_strangers_are_refused(client, publish, record_device, app):
    """REQ L-10: a smaller size, or another root at the same size, is refused without a proof;
    a cosignature by a witness the log does not expect is not kept."""
    root = tree.leaf_hash("00" * 32)
    with pytest.raises(witnessing.Refused, match="rollback"):
        witnessing.check_extends("http://unused", (5, root), (4, root))
    with pytest.raises(witnessing.Refused, match="fork"):
        witnessing.check_extends("http://unused", (5, root), (5, tree.leaf_hash("11" * 32)))
    with app.app_context():
        record_device()
    text = note.signature_lines(client.get("/log/checkpoint").get_data(as_text=True))[0]
    stranger = Ed25519PrivateKey.generate()
    line = cosign.cosign(text, NAME, stranger, stranger.public_key().public_bytes_raw(), 1)
    response = client.post("/log/cosignature", data=f"{text}\n{line}\n")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert NAME not in client.get("/log/checkpoint").get_data(as_text=True)
