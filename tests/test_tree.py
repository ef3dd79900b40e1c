"""The Merkle tree over the ledger (L-10): the pure functions against a direct recursive reading
of RFC 9162 §2.1 for every size 1..300, tampering properties, and the stored tree kept, rebuilt
and checked against the chain."""
import hashlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from consent_server import ledger
from consent_server.extensions import db
from consent_server.ledger import tree, treestore
from consent_server.models import ConsentEvent, TreeNode

SIZES = 300
EVENT_HASHES = [hashlib.sha256(f"event {i}".encode()).hexdigest() for i in range(SIZES)]
LEAVES = [tree.leaf_hash(h) for h in EVENT_HASHES]
GET = tree.memory(LEAVES)  # complete subtrees do not depend on the tree's size


# RFC 9162 §2.1, as written: recursive, on the list of leaves D[start:end] of LEAVES.

@cache
def mth(start: int, end: int) -> bytes:
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + bytes.fromhex(EVENT_HASHES[start])).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(start, start + k) + mth(start + k, end)).digest()


def path(m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, start, start + k) + [mth(start + k, end)]
    return path(m - k, start + k, end) + [mth(start, start + k)]


def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [mth(start, end)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, start, start + k, complete) + [mth(start + k, end)]
    return subproof(m - k, start + k, end, False) + [mth(start, start + k)]


def test_leaf_and_node_hashes_are_rfc_9162s():
    """REQ L-10: leaf = SHA-256(0x00 || event hash bytes), node = SHA-256(0x01 || l || r)."""
    assert tree.leaf_hash("ab" * 32) == hashlib.sha256(b"\x00" + b"\xab" * 32).digest()
    assert tree.node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert tree.root(0, GET) == hashlib.sha256(b"").digest()


def test_roots_of_every_size_up_to_300_match_the_rfc():
    """REQ L-10: MTH(D[n]) for every n in 1..300."""
    for n in range(1, SIZES + 1):
        assert tree.root(n, GET) == mth(0, n), n


def test_inclusion_proofs_of_every_leaf_of_every_size_up_to_300_match_and_verify():
    """REQ L-10: PATH(m, D[n]) for every 0 <= m < n <= 300, and §2.1.3.2 accepts it."""
    for n in range(1, SIZES + 1):
        root = mth(0, n)
        for m in range(n):
            proof = tree.inclusion_proof(m, n, GET)
            assert proof == path(m, 0, n), (m, n)
            assert tree.verify_inclusion(m, n, LEAVES[m], proof, root), (m, n)


def test_consistency_proofs_between_every_pair_of_sizes_up_to_300_match_and_verify():
    """REQ L-10, L-07: PROOF(m, D[n]) for every 0 < m <= n <= 300, and §2.1.4.2 accepts it."""
    for n in range(1, SIZES + 1):
        root = mth(0, n)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n, GET)
            assert proof == subproof(m, 0, n, True), (m, n)
            assert tree.verify_consistency(m, n, mth(0, m), root, proof), (m, n)


def test_proofs_out_of_range_are_refused():
    """REQ L-10: no proof for a leaf outside the tree or sizes out of order."""
    for bad in ((5, 5), (-1, 3)):
        with pytest.raises(ValueError):
            tree.inclusion_proof(*bad, GET)
    for bad in ((0, 3), (4, 3)):
        with pytest.raises(ValueError):
            tree.consistency_proof(*bad, GET)
    assert not tree.verify_inclusion(3, 3, LEAVES[3], [], mth(0, 3))
    assert not tree.verify_consistency(2, 1, mth(0, 2), mth(0, 1), [])


def _flip(value: bytes, bit: int) -> bytes:
    return bytes([value[0] ^ (1 << (bit % 8))]) + value[1:]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, SIZES), st.data())
def test_an_inclusion_proof_fails_for_a_changed_leaf_size_or_proof(n, data):
    """REQ L-10: an inclusion proof proves one leaf at one index of one tree: any change fails."""
    m = data.draw(st.integers(0, n - 1))
    bit = data.draw(st.integers(0, 7))
    proof = tree.inclusion_proof(m, n, GET)
    assert tree.verify_inclusion(m, n, LEAVES[m], proof, mth(0, n))
    assert not tree.verify_inclusion(m, n, _flip(LEAVES[m], bit), proof, mth(0, n))
    other = data.draw(st.integers(m + 1, SIZES).filter(lambda s: s != n))
    assert not tree.verify_inclusion(m, other, LEAVES[m], proof, mth(0, other))
    if n > 1:
        moved = data.draw(st.integers(0, n - 1).filter(lambda i: i != m))
        assert not tree.verify_inclusion(moved, n, LEAVES[m], proof, mth(0, n))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        changed = [*proof[:at], _flip(proof[at], bit), *proof[at + 1:]]
        assert not tree.verify_inclusion(m, n, LEAVES[m], changed, mth(0, n))


@settings(max_examples=300, deadline=None)
@given(st.integers(2, SIZES), st.data())
def test_a_consistency_proof_fails_for_a_changed_leaf_or_size(n, data):
    """REQ L-10, L-07: a consistency proof ties one old tree to one new tree: another size, a
    changed old leaf (a rewrite) or a changed proof hash fails."""
    m = data.draw(st.integers(1, n - 1))
    proof = tree.consistency_proof(m, n, GET)
    assert tree.verify_consistency(m, n, mth(0, m), mth(0, n), proof)
    other_m = data.draw(st.integers(1, n).filter(lambda s: s != m))
    assert not tree.verify_consistency(other_m, n, mth(0, other_m), mth(0, n), proof)
    other_n = data.draw(st.integers(m, SIZES).filter(lambda s: s != n))
    assert not tree.verify_consistency(m, other_n, mth(0, m), mth(0, other_n), proof)
    # A rewrite: leaf i of the old tree changed, the new tree made over the changed leaves.
    i = data.draw(st.integers(0, m - 1))
    rewritten = tree.memory([*LEAVES[:i], _flip(LEAVES[i], 0), *LEAVES[i + 1:n]])
    new_root = tree.root(n, rewritten)
    assert not tree.verify_consistency(m, n, mth(0, m), new_root,
                                       tree.consistency_proof(m, n, rewritten))
    at = data.draw(st.integers(0, len(proof) - 1))
    changed = [*proof[:at], _flip(proof[at], 1), *proof[at + 1:]]
    assert not tree.verify_consistency(m, n, mth(0, m), mth(0, n), changed)


def _stored_root(app):
    with app.app_context(), db.engine.connect() as conn:
        n = treestore.size(conn)
        return n, tree.root(n, treestore.Reader(conn))


def _chain_root(app, n):
    with app.app_context():
        hashes = db.session.execute(select(ConsentEvent.hash).where(ConsentEvent.seq <= n)
                                    .order_by(ConsentEvent.seq)).scalars().all()
    return tree.root(n, tree.memory([tree.leaf_hash(h) for h in hashes]))


def test_the_tree_grows_with_the_ledger_in_batches_and_catches_up_for_readers(
        app, publish, record_device, monkeypatch):
    """REQ L-10: every BATCH-th append integrates the tree; integrate() brings it to the head;
    the stored root is the root of the chain's leaves; verify checks tree and chain agree."""
    monkeypatch.setattr(treestore, "BATCH", 16)  # the mechanism, with batches short to test
    for _ in range(treestore.BATCH - 1):
        record_device()
    assert _stored_root(app)[0] == 0  # not yet integrated: fewer than BATCH events
    record_device()
    assert _stored_root(app)[0] == treestore.BATCH
    for _ in range(5):
        record_device()
    with app.app_context():
        assert treestore.integrate(db.session) == treestore.BATCH + 5
        assert ledger.verify(db.session).ok
    n, root = _stored_root(app)
    assert n == treestore.BATCH + 5 and root == _chain_root(app, n)


def test_verify_finds_a_tree_that_disagrees_with_the_chain_and_rebuild_tree_mends_it(
        app, publish, record_device, runner):
    """REQ L-10: a changed leaf, a changed interior node or a missing node is found by verify;
    `flask consent rebuild-tree` makes the tree again from the events."""
    for _ in range(7):
        record_device()
    with app.app_context():
        treestore.integrate(db.session)
        for level, index, how in ((0, 3, "edit"), (2, 0, "edit"), (1, 2, "edit"),
                                  (1, 0, "delete")):
            node = (TreeNode.level == level) & (TreeNode.index == index)
            with db.engine.begin() as conn:
                changed = conn.execute(update(TreeNode).where(node).values(hash=b"\x00" * 32)
                                       if how == "edit" else delete(TreeNode).where(node))
                assert changed.rowcount == 1
            result = ledger.verify(db.session)
            assert not result.ok and ("tree" in result.reason or "leaf" in result.reason)
            if level == 0:
                assert result.first_bad_seq == 4
            out = runner.invoke(args=["consent", "rebuild-tree"])
            assert out.exit_code == 0 and "7 leaves" in out.output
            assert ledger.verify(db.session).ok
    result = runner.invoke(args=["consent", "verify"])
    assert result.exit_code == 0, result.output


def test_integration_and_rebuild_go_in_chunks(app, publish, record_device, monkeypatch,
                                              runner):
    """REQ L-10: a backlog larger than one chunk is integrated (and rebuilt) whole."""
    monkeypatch.setattr(treestore, "CHUNK", 3)
    with app.app_context():
        for _ in range(10):
            record_device()
        assert treestore.integrate(db.session) == 10
        assert treestore.rebuild(db.session) == 10
        assert ledger.verify(db.session).ok
    assert _stored_root(app) == (10, _chain_root(app, 10))
