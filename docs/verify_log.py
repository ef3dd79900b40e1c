"""Check the consent log's proofs offline, with Python's standard library alone (no server, no
database, no package): `python3 -I -S verify_log.py ...`.

  inclusion   KEY CHECKPOINT PROOF    an event (GET /api/v1/log/proof/inclusion) is in the log
                                      the signed checkpoint (GET /log/checkpoint) describes
  consistency KEY OLD NEW PROOF       the log of checkpoint NEW extends that of checkpoint OLD
                                      (GET /api/v1/log/proof/consistency?from=&to=)
  receipt     KEY RECEIPT CHECKPOINT PROOF
                                      a consent receipt (a JWS file) is signed by the log's key
                                      and its event is in the checkpoint's log
  bundle      KEY BUNDLE              a subject's proof bundle (GET /api/v1/audit/subjects/
                                      <id>/proof): every event its own hash, in the checkpoint

KEY is the note verifier key (GET /log/key, `<name>+<hex id>+<base64 key>`) or a file holding
it. Exit 0 and "ok: ..." when the proof holds, 1 and the reason when it does not.
Formats: RFC 9162 §2.1 (tree, proofs), C2SP signed-note and tlog-checkpoint, RFC 8032
(Ed25519, the reference verification of its section 6).
"""
import base64
import hashlib
import json
import os
import sys

# --- RFC 9162 §2.1.3.2 and §2.1.4.2: verifying inclusion and consistency proofs -------------


def leaf_hash(event_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, proof, root):
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old, new, old_root, new_root, proof):
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if not proof:
        return False
    if old & (old - 1) == 0:
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
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root

# --- end of the RFC 9162 part ----------------------------------------------------------------

# RFC 8032 §6: Ed25519 verification, the reference code.
P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
Q = 2**252 + 27742317777372353535851937790883648493
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x = (a[1] - a[0]) * (b[1] - b[0]) % P
    y = (a[1] + a[0]) * (b[1] + b[0]) % P
    c, d = 2 * a[3] * b[3] * D % P, 2 * a[2] * b[2] % P
    e, f, g, h = y - x, d - c, d + c, y + x
    return (e * f, g * h, f * g, e * h)


def _mul(s, point):
    result = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            result = _add(result, point)
        point, s = _add(point, point), s >> 1
    return result


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    return P - x if (x & 1) != sign else x


def _point(data):
    y = int.from_bytes(data, "little")
    x = _x(y & ((1 << 255) - 1), y >> 255)
    return None if x is None else (x, y & ((1 << 255) - 1), 1, x * (y & ((1 << 255) - 1)) % P)


G_Y = 4 * pow(5, P - 2, P) % P
G = (_x(G_Y, 0), G_Y, 1, _x(G_Y, 0) * G_Y % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _point(public), _point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, G), _add(r, _mul(h, a)))

# C2SP signed-note and tlog-checkpoint.


def open_checkpoint(key: str, note: str):
    """(origin, size, root) of a checkpoint note signed by the verifier key; ValueError if not."""
    name, key_id, key64 = key.strip().split("+", 2)
    raw = base64.b64decode(key64)
    if raw[:1] != b"\x01" or len(raw) != 33 or \
            hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != key_id:
        raise ValueError("not an Ed25519 note verifier key")
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == "\u2014" and parts[1] == name:
            signature = base64.b64decode(parts[2])
            if signature[:4].hex() == key_id and ed25519_verify(raw[1:], text.encode(),
                                                                signature[4:]):
                origin, size, root = text.split("\n")[:3]
                return origin, int(size), base64.b64decode(root)
    raise ValueError(f"the checkpoint carries no valid signature by {name}")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def _key(arg: str) -> str:
    return _read(arg) if os.path.isfile(arg) else arg


def inclusion(key, checkpoint, proof_file) -> str:
    origin, size, root = open_checkpoint(key, _read(checkpoint))
    proof = json.loads(_read(proof_file))
    if proof["tree_size"] != size:
        raise ValueError(f"the proof is for size {proof['tree_size']}, the checkpoint {size}")
    hashes = [base64.b64decode(h) for h in proof["proof"]]
    if not verify_inclusion(proof["seq"] - 1, size, leaf_hash(proof["event_hash"]), hashes, root):
        raise ValueError(f"event {proof['seq']} is not in the log of the checkpoint")
    return f"ok: event {proof['seq']} ({proof['event_hash']}) is in {origin} of size {size}"


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def receipt(key, receipt_file, checkpoint, proof_file) -> str:
    header, payload, signature = _read(receipt_file).strip().split(".")
    public = base64.b64decode(key.strip().split("+", 2)[2])[1:]
    if json.loads(_unb64url(header)).get("alg") != "EdDSA" or not ed25519_verify(
            public, f"{header}.{payload}".encode(), _unb64url(signature)):
        raise ValueError("the receipt is not signed by the log's key")
    claims = json.loads(_unb64url(payload))
    proof = json.loads(_read(proof_file))
    if (proof["seq"], proof["event_hash"]) != (claims["seq"], claims["hash"]):
        raise ValueError("the proof is not of the receipt's event")
    return "ok: the receipt is genuine; " + inclusion(key, checkpoint, proof_file)[4:]


# The ledger's canonical form of an event (README, "The form, for auditors").
FORM = {1: "seq event_id recorded_at subject_type subject action choices policy_version language"
           " text_hash source gpc pii_salt ip_digest ua_digest prev_hash",
        2: "v seq event_id recorded_at subject_type subject action choices policy_version language"
           " text_hash source gpc ip_digest ua_digest basis details prev_hash"}
FORM[3] = FORM[2].replace(" prev_hash", " site prev_hash")  # since migration 0013


def _canon(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event: dict) -> str:
    form = {k: event[k] for k in FORM[event.get("v") or 1].split()}
    for k in ("choices", "details"):
        if form.get(k) is not None:
            form[k] = _canon(form[k])
    return hashlib.sha256(_canon(form).encode()).hexdigest()


def bundle(key, bundle_file) -> str:
    given = json.loads(_read(bundle_file))
    if given.get("format") != "consent-proof-bundle/v1":
        raise ValueError("not a consent-proof-bundle/v1")
    origin, size, root = open_checkpoint(key, given["checkpoint"])
    for event in given["events"]:
        if event["subject"] != given["subject"] or event_hash(event) != event["hash"]:
            raise ValueError(f"event {event['seq']} is not the subject's as hashed")
        proof = [base64.b64decode(h) for h in event["inclusion"]]
        if not verify_inclusion(event["seq"] - 1, size, leaf_hash(event["hash"]), proof, root):
            raise ValueError(f"event {event['seq']} is not in the checkpoint's log")
    return f"ok: {len(given['events'])} events of one subject, each in {origin} of size {size}"


def consistency(key, old_file, new_file, proof_file) -> str:
    old_origin, old, old_root = open_checkpoint(key, _read(old_file))
    origin, new, new_root = open_checkpoint(key, _read(new_file))
    proof = json.loads(_read(proof_file))
    if old_origin != origin or (proof["from"], proof["to"]) != (old, new):
        raise ValueError("the proof and the checkpoints are not of the same log and sizes")
    hashes = [base64.b64decode(h) for h in proof["proof"]]
    if not verify_consistency(old, new, old_root, new_root, hashes):
        raise ValueError(f"the log of size {new} does not extend the log of size {old}: "
                         "history was rewritten")
    return f"ok: {origin} of size {new} extends its checkpoint of size {old}"


if __name__ == "__main__":
    commands = {"inclusion": (inclusion, 3), "consistency": (consistency, 4),
                "receipt": (receipt, 4), "bundle": (bundle, 2)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or \
            len(sys.argv) != 2 + commands[sys.argv[1]][1]:
        sys.exit(__doc__)
    function, _ = commands[sys.argv[1]]
    try:
        print(function(_key(sys.argv[2]), *sys.argv[3:]))
    except (ValueError, KeyError, TypeError) as error:
        sys.exit(f"NOT OK: {error}")
