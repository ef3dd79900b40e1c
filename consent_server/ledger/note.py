"""C2SP signed notes and tlog checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), the
formats golang.org/x/mod/sumdb/note and every tlog client read.

A checkpoint's text is three lines: the origin (a schema-less URL naming the log), the tree size
in decimal, the root hash in standard base64. A signed note is that text, a blank line, and one
line per signature: an em dash, the key's name, and base64 of the 4-byte key id followed by the
Ed25519 signature of the text. The key id is the first four bytes of SHA-256(name || 0x0A ||
0x01 || public key), 0x01 naming Ed25519; the verifier key `<name>+<hex id>+<base64(0x01 ||
public key)>` is what a client configures.
"""
import base64
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"  # the signature type of signed-note's Ed25519 keys
DASH = "\u2014 "  # every signature line starts with an em dash and a space


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def origin(public_url: str) -> str:
    """The log's origin line (and key name) from CONSENT_PUBLIC_URL: host and path, then /log."""
    parts = urlsplit(public_url)
    return f"{parts.netloc}{parts.path.rstrip('/')}/log"


def key_id(name: str, public_key: bytes, kind: bytes = ED25519) -> bytes:
    """The 4-byte key id of an Ed25519 key named `name` (signing notes, or of another kind)."""
    return hashlib.sha256(name.encode() + b"\n" + kind + public_key).digest()[:4]


def parse_key(text: str, kind: bytes = ED25519) -> tuple[str, bytes, bytes]:
    """(name, key id, public key) of a verifier key `<name>+<hex id>+<base64(kind || key)>`;
    ValueError unless it is of that kind and its id matches."""
    try:
        name, hex_id, key = text.strip().split("+", 2)  # base64 may hold a +
        raw, id_ = unb64(key), bytes.fromhex(hex_id)
    except ValueError as error:
        raise ValueError("not a verifier key <name>+<hex id>+<base64 key>") from error
    if len(raw) != 33 or raw[:1] != kind or id_ != key_id(name, raw[1:], kind):
        raise ValueError("not a verifier key of this kind, or its id does not match")
    return name, id_, raw[1:]


def verifier_key(name: str, public_key: bytes) -> str:
    """The note verifier key: `<name>+<hex key id>+<base64(0x01 || public key)>`."""
    return f"{name}+{key_id(name, public_key).hex()}+{b64(ED25519 + public_key)}"


@dataclass(frozen=True)
class Verifier:
    """A verifier key, parsed."""

    name: str
    id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> "Verifier":
        """ValueError unless `text` is an Ed25519 verifier key whose id matches its key."""
        return cls(*parse_key(text))

    def check(self, text: str, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text.encode())
            return True
        except InvalidSignature:
            return False


def sign(text: str, name: str, private: Ed25519PrivateKey, public_key: bytes) -> str:
    """The signed note of `text` (which ends in a newline) by the key named `name`."""
    if not text.endswith("\n") or "\n\n" in text:
        raise ValueError("a note's text ends in one newline and has no blank line")
    signature = key_id(name, public_key) + private.sign(text.encode())
    return f"{text}\n{DASH}{name} {b64(signature)}\n"


def signature_lines(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A note's text and its signatures (key name, key id + signature); ValueError if malformed."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise ValueError("not a signed note: no blank line before the signatures")
    found = []
    for line in signatures[:-1].split("\n"):
        if not line.startswith(DASH) or line.count(" ") != 2:
            raise ValueError("a signature line is not '\u2014 <name> <base64>'")
        name, value = line[len(DASH):].split(" ")
        try:
            found.append((name, unb64(value)))
        except ValueError as error:
            raise ValueError("a signature is not base64") from error
    return text + "\n", found


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a note that `verifier` signed; ValueError when it did not."""
    text, signatures = signature_lines(note)
    for name, value in signatures:
        if name == verifier.name and value[:4] == verifier.id and verifier.check(text, value[4:]):
            return text
    raise ValueError(f"the note carries no valid signature by {verifier.name}")


def checkpoint_text(origin_: str, size: int, root: bytes) -> str:
    """The body of a C2SP tlog checkpoint."""
    return f"{origin_}\n{size}\n{b64(root)}\n"


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root hash) of a checkpoint's text; ValueError if malformed."""
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise ValueError("not a tlog checkpoint: origin, size and root hash lines")
    root = unb64(lines[2])
    if len(root) != 32:
        raise ValueError("the checkpoint's root hash is not 32 bytes")
    return lines[0], int(lines[1]), root
