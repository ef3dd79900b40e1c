"""One subject's proof bundle (L-11, C-07): their events as the export has them, each with its
RFC 9162 inclusion proof against one signed checkpoint of the log, and that checkpoint. It holds
no other subject's event: the proofs are hashes of subtrees, never another event's fields (an
event's prev_hash, which its own hash covers, is the only other hash it names), so a
regulator or the person checks one consent without seeing anyone else's data (GDPR Art.
5(1)(c) applied to the proof itself).

    {"subject", "log_key", "checkpoint", "tree_size", "events": [{...export fields,
     "leaf_index", "inclusion": [base64 hashes, leaf to root]}]}
"""
import json

from sqlalchemy.orm import Session

from .. import database
from ..errors import NotFound
from . import chain, exports, note, transparency, tree, treestore
from .signing import SigningKey

FORMAT = "consent-proof-bundle/v1"


def bundle(session: Session, key: SigningKey, origin: str, subject: str) -> dict:
    """The bundle of a ledger subject (a consent id or an address's keyed hash)."""
    signed = transparency.signed_checkpoint(session, key, origin)
    _, size, _ = note.parse_checkpoint(signed.split("\n\n")[0] + "\n")
    events = [json.loads(line) for _, text in exports.export(
        database.engine_of(session), exports.filters(subject=subject), "ndjson")
        for line in text.splitlines()]
    events = [event for event in events if event["seq"] <= size]  # appended since: next time
    if not events:
        raise NotFound("No events for this subject.")
    get = treestore.Reader(session.connection())
    for event in events:
        event["leaf_index"] = event["seq"] - 1
        event["inclusion"] = [note.b64(h) for h in tree.inclusion_proof(event["seq"] - 1, size,
                                                                        get)]
    return {"format": FORMAT, "subject": subject, "log_key": transparency.verifier_key(
        key, origin), "checkpoint": signed, "tree_size": size, "events": events}


def check(given, log_key: str) -> str:
    """That a bundle holds, with the log's verifier key alone: the checkpoint signed by it,
    every event of the one subject, its hash its own, its leaf in the checkpoint's tree. A
    message saying so; ValueError saying why not."""
    if not isinstance(given, dict) or given.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} bundle")
    try:
        text = note.open_note(given["checkpoint"], note.Verifier.parse(log_key))
        origin, size, root = note.parse_checkpoint(text)
        events = given["events"]
        for event in events:
            if event["subject"] != given["subject"]:
                raise ValueError(f"event {event['seq']} is another subject's")
            if chain.event_hash(event) != event["hash"]:
                raise ValueError(f"event {event['seq']} does not match its hash")
            proof = [note.unb64(h) for h in event["inclusion"]]
            if not tree.verify_inclusion(event["seq"] - 1, size, tree.leaf_hash(event["hash"]),
                                         proof, root):
                raise ValueError(f"event {event['seq']} is not in the checkpoint's log")
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"the bundle is incomplete: {error}") from None
    return (f"ok: {len(events)} events of one subject, each in {origin} of size {size} "
            "(signature and inclusion proofs checked)")
