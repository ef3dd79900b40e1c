"""The transparency log over the ledger (L-10): signed checkpoints, inclusion and consistency
proofs and tiles, read from the stored tree (treestore.py) after bringing it to the head.

Nothing here holds a personal value: a leaf is a hash of an event hash, which covers only keyed
hashes and salted digests of personal fields.
"""
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Invalid, NotFound
from ..models import EVENTS
from . import chain, cosign, note, receipts, signing, tree, treestore
from .signing import SigningKey

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # hashes in a full tile (C2SP tlog-tiles)
TREE_FIELDS = ("tree_size", "root")


def _current(session: Session) -> tuple[int, treestore.Reader]:
    """The tree brought to the head, and a reader of it on the session's connection."""
    size = treestore.integrate(session)
    return size, treestore.Reader(session.connection())


def summary(session: Session) -> dict:
    """The tree's size and root (standard base64), for the JSON checkpoint."""
    size, get = _current(session)
    return dict(zip(TREE_FIELDS, (size, note.b64(tree.root(size, get))), strict=True))


def signed_checkpoint(session: Session, key: SigningKey, origin: str) -> str:
    """The C2SP checkpoint of the whole tree, as a note signed by the server's key, with the
    witnesses' cosignatures of it."""
    size, get = _current(session)
    root = tree.root(size, get)
    signed = note.sign(note.checkpoint_text(origin, size, root), origin, key.private,
                       key.public_bytes)
    return signed + "".join(line + "\n" for line in cosign.lines(session, size, root))


def add_cosignature(session: Session, witnesses: list, origin: str, cosigned: str) -> int:
    """Keep a witness's cosignature of a checkpoint of this log (cosign.store)."""
    try:
        size, get = _current(session)
        return cosign.store(session, witnesses, origin, cosigned,
                            lambda n: tree.root(n, get) if n <= size else None)
    except ValueError as error:
        raise Invalid("not a cosigned checkpoint", {"checkpoint": [str(error)]}) from None


def verifier_key(key: SigningKey, origin: str) -> str:
    """The server key's note verifier key."""
    return note.verifier_key(origin, key.public_bytes)


def _size(session: Session, size: int | None, at_least: int) -> tuple[int, treestore.Reader]:
    current, get = _current(session)
    size = current if size is None else size
    if size > current or at_least > current:
        raise NotFound(f"the log holds {current} events, fewer than {max(size, at_least)}")
    if size < at_least:
        raise Invalid("the tree size is smaller than the proof needs",
                      {"size": [f"must be at least {at_least}"]})
    return size, get


def inclusion(session: Session, seq: int, size: int | None = None) -> dict:
    """The inclusion proof of event `seq` (leaf seq - 1) in the tree of `size` (default: all)."""
    size, get = _size(session, size, seq)
    event_hash = session.execute(select(EVENTS.c.hash).where(EVENTS.c.seq == seq)).scalar()
    if event_hash is None:
        raise NotFound(f"the ledger has no event {seq}")
    proof = tree.inclusion_proof(seq - 1, size, get)
    return {"seq": seq, "leaf_index": seq - 1, "tree_size": size, "event_hash": event_hash,
            "leaf_hash": note.b64(tree.leaf_hash(event_hash)),
            "root": note.b64(tree.root(size, get)), "proof": [note.b64(h) for h in proof]}


def consistency(session: Session, old: int, new: int | None = None) -> dict:
    """The consistency proof from the tree of size `old` to the tree of size `new`."""
    new, get = _size(session, new, old)
    proof = tree.consistency_proof(old, new, get)
    return {"from": old, "to": new, "from_root": note.b64(tree.root(old, get)),
            "to_root": note.b64(tree.root(new, get)), "proof": [note.b64(h) for h in proof]}


def tile(session: Session, level: int, index: int, width: int | None) -> bytes:
    """A C2SP tile: the hashes of tree level 8 * level from index * 256, `width` of them (a full
    tile when None); NotFound until the tree holds them all."""
    size, get = _current(session)
    available = (size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH
    wanted = TILE_WIDTH if width is None else width
    if available < wanted:
        raise NotFound("the log has no such tile yet")
    start = index * TILE_WIDTH
    return b"".join(get.run(TILE_HEIGHT * level, start, start + wanted))


def entries(session: Session, index: int, width: int | None) -> bytes:
    """A C2SP entry bundle: the log's entries from index * 256, `width` of them (a full bundle
    when None), each a big-endian uint16 length and the entry. An entry is the event's hash,
    whose leaf hash is SHA-256(0x00 || entry) as in the tree; NotFound until the log holds
    them all."""
    size, _ = _current(session)
    wanted = TILE_WIDTH if width is None else width
    start = index * TILE_WIDTH
    if size - start < wanted:
        raise NotFound("the log has no such entry bundle yet")
    hashes = session.execute(select(EVENTS.c.hash).where(
        EVENTS.c.seq > start, EVENTS.c.seq <= start + wanted).order_by(EVENTS.c.seq)).scalars()
    return b"".join(len(entry).to_bytes(2, "big") + entry
                    for entry in map(bytes.fromhex, hashes))


def json_checkpoint(session: Session, key: SigningKey) -> dict:
    """The JSON checkpoint of the head (signing.py), with the tree's size and root and their own
    signature: `tree_signature`, Ed25519 over the canonical JSON of seq, hash, time, kid,
    tree_size and root (`signature` stays what it was, so earlier checks keep working)."""
    signed = signing.checkpoint(session, key)
    tree_part = {**{k: signed[k] for k in signing.SIGNED}, **summary(session)}
    return {**signed, **tree_part, "tree_signature": key.sign(chain.canonical(tree_part))}


def check_tree(session: Session, key: SigningKey, given: dict) -> str | None:
    """Why a JSON checkpoint's tree is not this log's (a bad signature, or another root at its
    size), or None; None too for a checkpoint from before the tree, which names none."""
    if not isinstance(given, dict) or "tree_size" not in given:
        return None
    tree_part = {k: given.get(k) for k in (*signing.SIGNED, *TREE_FIELDS)}
    signature = given.get("tree_signature")
    public = signing.public_key(session, given.get("kid"), key)  # a retired key's too
    if not isinstance(signature, str) or public is None or not signing.check_signature(
            public, chain.canonical(tree_part), signature):
        return "the checkpoint's tree_signature is not valid"
    size, get = _current(session)
    if not isinstance(given["tree_size"], int) or not 0 <= given["tree_size"] <= size:
        return f"the log has no tree of size {given['tree_size']}: it does not extend it"
    if note.b64(tree.root(given["tree_size"], get)) != given["root"]:
        return f"the tree of size {given['tree_size']} has another root: history was rewritten"
    return None


def check_consistency(session: Session, key: SigningKey, origin: str, old_note: str,
                      new_note: str) -> str:
    """That the log of checkpoint `new_note` extends that of `old_note` (both notes signed by
    this log's key): a message saying so; ValueError saying why not."""
    verifier = note.Verifier.parse(verifier_key(key, origin))
    old_origin, old, old_root = note.parse_checkpoint(note.open_note(old_note, verifier))
    new_origin, new, new_root = note.parse_checkpoint(note.open_note(new_note, verifier))
    if not origin == old_origin == new_origin or old > new:
        raise ValueError("the checkpoints are not of one log, older first")
    if old == 0:
        return f"ok: {origin} of size {new} extends the empty log"
    size, get = _current(session)
    if new > size:
        raise ValueError(f"the log holds {size} events, not the {new} of the newer checkpoint")
    proof = tree.consistency_proof(old, new, get)
    if not tree.verify_consistency(old, new, old_root, new_root, proof):
        raise ValueError(f"the log of size {new} does not extend the log of size {old}: "
                         "history was rewritten")
    return (f"ok: {origin} of size {new} extends its checkpoint of size {old} "
            f"({len(proof)} hashes)")


def check_receipt(session: Session, key: SigningKey, origin: str, receipt: str,
                  checkpoint: str | None = None) -> dict:
    """receipts.check, and the receipt's event proven in a signed checkpoint of the log: the
    one given (any later than the event), else the log's own now, which the answer carries."""
    answer = receipts.check(session, key, receipt)
    claims = answer.get("claims") or {}
    if not answer["signature_ok"] or not isinstance(claims.get("seq"), int):
        return answer
    if checkpoint is None:
        checkpoint = signed_checkpoint(session, key, origin)
    try:
        text = note.open_note(checkpoint, note.Verifier.parse(verifier_key(key, origin)))
        log, size, root = note.parse_checkpoint(text)
    except ValueError as error:
        raise Invalid("not a checkpoint of this log", {"checkpoint": [str(error)]}) from None
    answer["checkpoint"] = checkpoint
    seq = claims["seq"]
    if not 0 < seq <= size or log != origin:
        return {**answer, "valid": False, "in_checkpoint": False,
                "reason": f"the checkpoint (size {size}) is older than event {seq}"}
    try:
        proof = inclusion(session, seq, size)
    except NotFound as error:  # a checkpoint of ours the tree no longer reaches
        return {**answer, "valid": False, "in_checkpoint": False, "reason": error.detail}
    proof["root"] = note.b64(root)  # the checkpoint's, which the proof must reach
    hashes = [note.unb64(h) for h in proof["proof"]]
    proof["event_hash"] = claims.get("hash")
    ok = isinstance(claims.get("hash"), str) and tree.verify_inclusion(
        seq - 1, size, tree.leaf_hash(claims["hash"]), hashes, root)
    answer = {**answer, "inclusion": proof, "in_checkpoint": ok}
    if not ok:
        return {**answer, "valid": False,
                "reason": answer["reason"] or "the event is not in the checkpoint's tree"}
    return answer
