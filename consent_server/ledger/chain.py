"""The ledger's canonical form and hashing: pure functions, the specification an auditor reads.

An event's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8, non-ASCII
kept) of the fields its format version names. Version 2 (every event since migration 0004):

    v, seq, event_id, recorded_at, subject_type, subject, action, choices, policy_version,
    language, text_hash, source, gpc, ip_digest, ua_digest, basis, details, prev_hash

Version 3 (every event since migration 0013) adds `site`, the id of the controller's site the
event was recorded for; the events before it record the default site unhashed ("default",
the only site there was).
`recorded_at` is hashed as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), `choices` and `details` as their
own canonical JSON text. The IP and user agent enter only through `sha256(salt + "\\x1f" +
value)`; the salt is not hashed, so erasure deletes it and the digests then identify nobody.
Version 1 (events written before 0004) had no `v`, `basis` or `details` and hashed `pii_salt`.
The first event's `prev_hash` is 64 zeros. Only the standard library is used here.
"""
import hashlib
import json
from datetime import datetime

GENESIS = "0" * 64
VERSION = 3
FIELDS = {
    1: ("seq", "event_id", "recorded_at", "subject_type", "subject", "action", "choices",
        "policy_version", "language", "text_hash", "source", "gpc", "pii_salt", "ip_digest",
        "ua_digest", "prev_hash"),
    2: ("v", "seq", "event_id", "recorded_at", "subject_type", "subject", "action", "choices",
        "policy_version", "language", "text_hash", "source", "gpc", "ip_digest", "ua_digest",
        "basis", "details", "prev_hash"),
    3: ("v", "seq", "event_id", "recorded_at", "subject_type", "subject", "action", "choices",
        "policy_version", "language", "text_hash", "source", "gpc", "ip_digest", "ua_digest",
        "basis", "details", "site", "prev_hash"),
}
JSON_TEXT = ("choices", "details")  # hashed as canonical JSON text, exported as objects


def canonical(value) -> bytes:
    """The canonical JSON form: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_text(value) -> str | None:
    """A JSON field (choices, details) as the ledger stores and hashes it; None stays None."""
    if value is None or isinstance(value, str):
        return value
    return canonical(value).decode()


def timestamp(moment: datetime | str) -> str:
    """A UTC instant as the ledger hashes it: ISO 8601 to the microsecond, with Z."""
    if isinstance(moment, str):  # already in that form (an export)
        return moment
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(salt: str, value: str | None) -> str | None:
    """The salted SHA-256 of a personal field, or None when there is no value."""
    if value is None:
        return None
    return hashlib.sha256(f"{salt}\x1f{value}".encode()).hexdigest()


def version(event) -> int:
    """An event's format version: its `v`, or 1 for events written before versions existed."""
    return event.get("v") or 1


def form(event) -> dict:
    """The fields an event's hash covers, in the form they are hashed."""
    fields = {key: event[key] for key in FIELDS[version(event)]}
    fields["recorded_at"] = timestamp(fields["recorded_at"])
    for key in JSON_TEXT:
        if key in fields:
            fields[key] = json_text(fields[key])
    return fields


def event_hash(event) -> str:
    """SHA-256 over the canonical JSON of an event's hashed fields."""
    return hashlib.sha256(canonical(form(event))).hexdigest()


SEQ_MARK, PREV_MARK = -8_302_514_977, "@prev@"  # stand-ins, cut out of the canonical form


def hash_parts(event) -> tuple[str, str, str]:
    """An event's canonical form in three parts, around its prev_hash and seq.

    sha256(pre + prev_hash + mid + str(seq) + post) equals event_hash(event), so a database can
    chain an event whose place it only learns under the lock. A key is the only unescaped
    `"name":` in canonical JSON, so the cuts cannot land inside a value.
    """
    text = canonical(form({**event, "seq": SEQ_MARK, "prev_hash": PREV_MARK})).decode()
    pre, _, rest = text.partition(f'"prev_hash":"{PREV_MARK}"')
    mid, _, post = rest.partition(f'"seq":{SEQ_MARK}')
    return pre + '"prev_hash":"', '"' + mid + '"seq":', post


def check_link(event, expected_seq: int, prev_hash: str) -> str | None:
    """Why an event does not follow (expected_seq, prev_hash) in the chain, or None."""
    if event["seq"] != expected_seq:
        return f"event {expected_seq} is missing"
    if event["prev_hash"] != prev_hash:
        return "prev_hash does not match the previous event"
    if event_hash(event) != event["hash"]:
        return "hash does not match the event"
    return None
