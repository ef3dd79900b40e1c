"""The public transparency log (L-10, L-07): the C2SP signed checkpoint and its verifier key,
RFC 9162 proofs as JSON, C2SP tiles, and the JSON checkpoint's tree."""
import base64
import hashlib
import json

import pytest
from sqlalchemy import select, update

from consent_server.extensions import db
from consent_server.ledger import chain, note, signing, transparency, tree, treestore
from consent_server.models import ConsentEvent


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _leaves(app) -> list[bytes]:
    with app.app_context():
        hashes = db.session.execute(select(ConsentEvent.hash).order_by(ConsentEvent.seq)
                                    ).scalars().all()
    return [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in hashes]


@pytest.fixture
def events(app, publish, record_device):
    """events(n): record n device choices; the leaves of the whole ledger."""

    def make(n):
        with app.app_context():
            for _ in range(n):
                record_device()
        return _leaves(app)

    return make


def _verifier(client) -> note.Verifier:
    response = client.get("/log/key")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return note.Verifier.parse(response.get_data(as_text=True))


def test_the_verifier_key_is_c2sp_signed_notes_form(app_factory):
    """REQ L-10: <name>+<hex id>+<base64(0x01 || key)>, the id the first four bytes of
    SHA-256(name || 0x0A || 0x01 || key), the name the origin from CONSENT_PUBLIC_URL."""
    app = app_factory(PUBLIC_URL="https://consent.example.no/")
    text = app.test_client().get("/log/key").get_data(as_text=True).strip()
    public = app.extensions["consent_signing_key"].public_bytes
    name, hex_id, key = text.split("+", 2)
    assert name == "consent.example.no/log"
    assert bytes.fromhex(hex_id) == hashlib.sha256(
        b"consent.example.no/log\n\x01" + public).digest()[:4]
    assert base64.b64decode(key) == b"\x01" + public


def test_the_checkpoint_is_a_signed_c2sp_checkpoint_of_the_whole_ledger(client, events):
    """REQ L-10: origin, size and base64 root, signed by the verifier key; short caching; a
    changed size or root, or another key, does not open."""
    leaves = events(5)
    response = client.get("/log/checkpoint")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "public, max-age=5"
    signed = response.get_data(as_text=True)
    verifier = _verifier(client)
    origin, size, root = note.parse_checkpoint(note.open_note(signed, verifier))
    assert (origin, size) == ("127.0.0.1:5000/log", 5)
    assert root == tree.root(5, tree.memory(leaves))
    forged = signed.replace("\n5\n", "\n6\n", 1)
    with pytest.raises(ValueError):
        note.open_note(forged, verifier)
    stranger = signing.SigningKey(signing.parse(signing.generate()))
    with pytest.raises(ValueError):
        note.open_note(signed, note.Verifier.parse(
            note.verifier_key(verifier.name, stranger.public_bytes)))
    grown = events(2)
    _, size, root = note.parse_checkpoint(note.open_note(
        client.get("/log/checkpoint").get_data(as_text=True), verifier))
    assert size == 7 and root == tree.root(7, tree.memory(grown))


def test_inclusion_and_consistency_proofs_verify_against_signed_checkpoints(client, events):
    """REQ L-10, L-07: every event's inclusion proof and every earlier size's consistency proof
    check out with RFC 9162's algorithms against the signed roots."""
    leaves = events(11)
    get = tree.memory(leaves)
    for seq in range(1, 12):
        for size in (seq, 11):
            body = client.get(f"/api/v1/log/proof/inclusion?seq={seq}&size={size}").json
            assert body["leaf_index"] == seq - 1 and body["tree_size"] == size
            assert _b64(body["root"]) == tree.root(size, get)
            assert tree.verify_inclusion(seq - 1, size, leaves[seq - 1],
                                         [_b64(h) for h in body["proof"]], tree.root(size, get))
    for old in range(1, 12):
        body = client.get(f"/api/v1/log/proof/consistency?from={old}").json
        assert body["from"] == old and body["to"] == 11
        assert tree.verify_consistency(old, 11, tree.root(old, get), tree.root(11, get),
                                       [_b64(h) for h in body["proof"]])


@pytest.mark.parametrize("query, status", [
    ("/inclusion?seq=12", 404), ("/inclusion?seq=3&size=2", 422), ("/inclusion?seq=0", 422),
    ("/inclusion?seq=1&size=99", 404), ("/inclusion", 422), ("/inclusion?seq=x", 422),
    ("/inclusion?seq=1&leaf=2", 422), ("/consistency?from=3&to=2", 422),
    ("/consistency?from=0", 422), ("/consistency?from=1&to=12", 404),
])
def test_bad_proof_requests_are_problems(client, events, query, status):
    """REQ L-10: a proof the log cannot give is a problem+json 4xx, never a 500."""
    events(3)
    response = client.get(f"/api/v1/log/proof{query}")
    assert response.status_code == status and response.mimetype == "application/problem+json"


def test_tiles_are_c2sp_tiles_of_the_stored_tree(client, events):
    """REQ L-10: /log/tile/<L>/<N>[.p/<W>] holds level 8L's hashes; full tiles are immutable,
    partial ones short-lived, a tile not yet there is a 404, a bad path a 4xx."""
    leaves = events(272)  # one full tile and 16 over
    full = client.get("/log/tile/0/000")
    assert full.status_code == 200 and full.data == b"".join(leaves[:256])
    assert "immutable" in full.headers["Cache-Control"]
    partial = client.get("/log/tile/0/001.p/16")
    assert partial.data == b"".join(leaves[256:272])
    assert partial.headers["Cache-Control"] == "public, max-age=5"
    assert client.get("/log/tile/0/001.p/5").data == b"".join(leaves[256:261])
    top = client.get("/log/tile/1/000.p/1")  # level 8: the root of the first 256 leaves
    assert top.data == tree.root(256, tree.memory(leaves))
    for missing in ("/log/tile/0/001", "/log/tile/0/001.p/17", "/log/tile/1/000.p/2",
                    "/log/tile/0/x001/000"):
        assert client.get(missing).status_code == 404, missing
    for bad in ("/log/tile/0/1", "/log/tile/0/000.p/0", "/log/tile/0/000.p/256",
                "/log/tile/8/000", "/log/tile/0/abc"):
        response = client.get(bad)
        assert response.status_code in (400, 422), bad
        assert response.mimetype == "application/problem+json"


def test_entry_bundles_hold_the_entries_the_leaves_are_made_from(client, events):
    """REQ L-10: /log/tile/entries/<N>[.p/<W>] (C2SP tlog-tiles entry bundles): each entry a
    big-endian uint16 length and the event's hash, whose leaf hash SHA-256(0x00 || entry) is
    the tile's; a bundle not yet there is a 404, a bad path a 4xx."""
    leaves = events(260)

    def entries(data):
        found = []
        while data:
            length = int.from_bytes(data[:2], "big")
            found.append(data[2:2 + length])
            data = data[2 + length:]
        return found

    full = client.get("/log/tile/entries/000")
    assert full.status_code == 200 and "immutable" in full.headers["Cache-Control"]
    assert [hashlib.sha256(b"\0" + e).digest() for e in entries(full.data)] == leaves[:256]
    partial = client.get("/log/tile/entries/001.p/4")
    assert [hashlib.sha256(b"\0" + e).digest() for e in entries(partial.data)] == leaves[256:]
    assert partial.headers["Cache-Control"] == "public, max-age=5"
    assert client.get("/log/tile/entries/001.p/5").status_code == 404
    assert client.get("/log/tile/entries/001").status_code == 404
    assert client.get("/log/tile/entries/1").status_code in (400, 422)


def test_the_json_checkpoint_signs_the_tree_and_verify_checks_it(app, events, runner,
                                                                 tmp_path):
    """REQ L-07, L-10: the JSON checkpoint names the tree's size and root under its signature;
    `verify --checkpoint` checks them, and a tree rewritten with the chain is found."""
    leaves = events(4)
    result = runner.invoke(args=["consent", "checkpoint", "--out", str(tmp_path / "c.json")])
    assert result.exit_code == 0
    kept = json.loads((tmp_path / "c.json").read_text())
    assert kept["tree_size"] == 4 and _b64(kept["root"]) == tree.root(4, tree.memory(leaves))
    key = app.extensions["consent_signing_key"]
    signed = {k: kept[k] for k in ("seq", "hash", "time", "kid", "tree_size", "root")}
    assert key.check(chain.canonical(signed), kept["tree_signature"])
    with app.app_context():
        assert signing.check_checkpoint(db.session, key, kept) is None  # as before the tree
        assert transparency.check_tree(db.session, key, kept) is None
        assert "tree_signature" in transparency.check_tree(db.session, key,
                                                           {**kept, "tree_size": 3})
    ok = runner.invoke(args=["consent", "verify", "--checkpoint", str(tmp_path / "c.json")])
    assert ok.exit_code == 0, ok.output
    with app.app_context():  # a rewritten tree (the chain's hashes left alone): its root
        with db.engine.begin() as conn:
            conn.execute(update(treestore.NODES).where(treestore.NODES.c.level == 2,
                                                       treestore.NODES.c.index == 0)
                         .values(hash=b"\x01" * 32))
        assert "another root" in transparency.check_tree(db.session, key, kept)
    assert runner.invoke(args=["consent", "verify"]).exit_code == 1
