"""A witness of the log (c2sp.org/tlog-witness, pulling): fetch the log's checkpoint, check the
consistency proof from the last one it saw, refuse on a fork or a rollback, else cosign it and
hand the cosignature to the log. Its state is a folder: the log's verifier key (pinned on the
first run) and the last checkpoint it cosigned."""
import json
import time
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import cosign, note, tree

TIMEOUT = 30  # seconds per request to the log


class Refused(Exception):
    """The log's new checkpoint does not extend the last one the witness saw."""


def fetch(url: str, data: bytes | None = None) -> str:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - the log's URL
        return response.read().decode("utf-8")


def check_extends(log: str, old: tuple[int, bytes], new: tuple[int, bytes], get=fetch) -> None:
    """Refused unless the tree (size, root) `new` extends `old`, by the log's consistency proof."""
    (old_size, old_root), (size, root) = old, new
    if size < old_size:
        raise Refused(f"rollback: the log's size went from {old_size} back to {size}")
    if size == old_size:
        if root != old_root:
            raise Refused(f"fork: two different roots for size {size}")
        return
    if old_size == 0:
        return
    answer = json.loads(get(f"{log}/api/v1/log/proof/consistency?from={old_size}"
                                 f"&to={size}"))
    proof = [note.unb64(h) for h in answer["proof"]]
    if not tree.verify_consistency(old_size, size, old_root, root, proof):
        raise Refused(f"fork: the log of size {size} does not extend the one of size "
                      f"{old_size} it showed before (history was rewritten)")


def witness(log: str, state: Path, private: Ed25519PrivateKey, name: str, get=fetch,
            now=None) -> str:
    """One round: the cosignature line of the log's current checkpoint, handed to the log."""
    log = log.rstrip("/")
    state.mkdir(parents=True, exist_ok=True)
    key_file, last_file = state / "log.key", state / "checkpoint"
    if not key_file.exists():  # trust on first use; afterwards the pinned key only
        key_file.write_text(get(f"{log}/log/key"), encoding="utf-8")
    verifier = note.Verifier.parse(key_file.read_text(encoding="utf-8"))
    signed = get(f"{log}/log/checkpoint")
    text = note.open_note(signed, verifier)
    origin, size, root = note.parse_checkpoint(text)
    if last_file.exists():
        last = note.open_note(last_file.read_text(encoding="utf-8"), verifier)
        old_origin, old_size, old_root = note.parse_checkpoint(last)
        if old_origin != origin:
            raise Refused(f"another log: {origin}, not {old_origin}")
        check_extends(log, (old_size, old_root), (size, root), get)
    public = private.public_key().public_bytes_raw()
    line = cosign.cosign(text, name, private, public, int(now if now is not None
                                                          else time.time()))
    last_file.write_text(signed, encoding="utf-8")
    get(f"{log}/log/cosignature", (text + "\n" + line + "\n").encode())
    return line
