"""The Merkle tree over the ledger (RFC 9162 §2.1), as pure functions: hashes, proofs and their
verification. Standard library only, so an auditor can read (and copy) it whole.

Leaf i is the event with seq = i + 1: its leaf hash is SHA-256(0x00 || the event's chain hash as
bytes), an interior node SHA-256(0x01 || left || right). A tree is read through `get(level,
index)`: the hash of the complete subtree of 2**level leaves starting at leaf index << level
(what the node table and the C2SP tiles store). Every function reads O(log n) such hashes.
"""
import hashlib
from collections.abc import Callable, Iterator

Get = Callable[[int, int], bytes]  # (level, index) -> the complete subtree's hash


def leaf_hash(event_hash: str) -> bytes:
    """The leaf of an event: SHA-256(0x00 || bytes.fromhex(event.hash))."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}), the root of the empty tree


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def closed_nodes(index: int, leaf: bytes, get: Get) -> Iterator[tuple[int, int, bytes]]:
    """The nodes appending leaf `index` completes, (level, index, hash), the leaf first: one per
    trailing 1 bit of the index, each the parent of a stored left sibling."""
    level, hash_ = 0, leaf
    yield 0, index, leaf
    while (index >> level) & 1:
        hash_ = node_hash(get(level, (index >> level) - 1), hash_)
        level += 1
        yield level, index >> level, hash_


def range_hash(start: int, end: int, get: Get) -> bytes:
    """MTH(D[start:end]) for a range RFC 9162's recursion makes (start aligned to a power of two
    at least as large as end - start)."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return get(level, start >> level)
    k = split(n)
    return node_hash(range_hash(start, start + k, get), range_hash(start + k, end, get))


def root(size: int, get: Get) -> bytes:
    """The root hash of the tree of the first `size` leaves."""
    return range_hash(0, size, get)


def inclusion_proof(index: int, size: int, get: Get) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf to root; ValueError out of range."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            proof.append(range_hash(start + k, end, get))
            end = start + k
        else:
            proof.append(range_hash(start, start + k, get))
            start += k
    proof.reverse()
    return proof


def consistency_proof(old: int, new: int, get: Get) -> list[bytes]:
    """PROOF(old, D[new]) of RFC 9162 §2.1.4.1; ValueError unless 0 < old <= new."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    proof: list[bytes] = []
    start, end, complete = 0, new, True
    while True:  # SUBPROOF(m, D[start:end], complete), m counted from start
        m = old - start
        if m == end - start:
            if not complete:
                proof.append(range_hash(start, end, get))
            break
        k = split(end - start)
        if m <= k:
            proof.append(range_hash(start + k, end, get))
            end = start + k
        else:
            proof.append(range_hash(start, start + k, get))
            start, complete = start + k, False
    proof.reverse()
    return proof


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes],
                     expected_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: whether `proof` shows leaf `index` in the tree of `size` with that
    root."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == expected_root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: whether `proof` shows the tree of size `old` with `old_root` is a
    prefix of the tree of size `new` with `new_root`."""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if not proof:
        return False
    if old & (old - 1) == 0:  # a power of two: the old root is the proof's first node
        proof = [old_root, *proof]
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


def memory(leaves: list[bytes]) -> Get:
    """A `get` over leaf hashes held in memory (rebuilds, tests, benches): every complete
    subtree computed once."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return lambda level, index: levels[level][index]
