"""Witness cosignatures (c2sp.org/tlog-cosignature), and the ones the log keeps (L-10).

A witness checks that each checkpoint it sees extends the last one (a consistency proof), then
cosigns it: Ed25519 over `cosignature/v1\\ntime <unix seconds>\\n` followed by the checkpoint's
text. Its signature line is an em dash, its name, and base64 of the 4-byte key id (SHA-256 of
name || 0x0A || 0x04 || public key, 0x04 naming a cosignature), the time as 8 bytes big-endian,
and the signature. The log stores the cosignatures of the witnesses CONSENT_WITNESSES names and
serves them as extra lines of the checkpoint they sign.
"""
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from .. import database
from ..errors import Invalid
from ..models import COSIGNATURES, utcnow
from . import note

COSIGNATURE = b"\x04"  # signed-note's signature type of a tlog cosignature/v1


def key_id(name: str, public_key: bytes) -> bytes:
    return note.key_id(name, public_key, COSIGNATURE)


def verifier_key(name: str, public_key: bytes) -> str:
    """A witness's verifier key, `<name>+<hex id>+<base64(0x04 || public key)>`."""
    return f"{name}+{key_id(name, public_key).hex()}+{note.b64(COSIGNATURE + public_key)}"


def message(text: str, time: int) -> bytes:
    return f"cosignature/v1\ntime {time}\n{text}".encode()


def cosign(text: str, name: str, private: Ed25519PrivateKey, public_key: bytes,
           time: int) -> str:
    """The cosignature line of a checkpoint's text, at `time` (Unix seconds)."""
    value = key_id(name, public_key) + time.to_bytes(8, "big") + private.sign(message(text, time))
    return f"{note.DASH}{name} {note.b64(value)}"


@dataclass(frozen=True)
class Witness:
    """A witness's verifier key, parsed."""

    name: str
    id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> "Witness":
        """ValueError unless `text` is a cosignature/v1 witness key whose id matches."""
        return cls(*note.parse_key(text, COSIGNATURE))

    def check(self, text: str, value: bytes) -> int | None:
        """The time of a valid cosignature of `text` by this witness, else None."""
        if len(value) != 76 or value[:4] != self.id:
            return None
        time = int.from_bytes(value[4:12], "big")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(value[12:],
                                                                       message(text, time))
        except InvalidSignature:
            return None
        return time


def witnesses(setting) -> list[Witness]:
    """CONSENT_WITNESSES: witness keys, separated by commas, spaces or lines."""
    if isinstance(setting, str):
        setting = setting.replace(",", " ").split()
    return [Witness.parse(key) for key in setting or ()]


def store(session: Session, expected: list[Witness], origin: str, cosigned: str,
          root_at) -> int:
    """Keep the cosignatures of a checkpoint of this log by expected witnesses; returns how
    many. `root_at(size)` is the log's root at a size (the checkpoint must have it)."""
    text, signatures = note.signature_lines(cosigned)
    log, size, root = note.parse_checkpoint(text)
    if log != origin or size == 0 or root_at(size) != root:
        raise Invalid("not a checkpoint of this log", {"checkpoint": ["unknown"]})
    rows = []
    for name, value in signatures:
        for witness in expected:
            if witness.name == name and (time := witness.check(text, value)) is not None:
                rows.append({"witness": witness.id.hex(), "tree_size": size, "root": root,
                             "line": f"{note.DASH}{name} {note.b64(value)}", "time": time,
                             "received_at": utcnow()})
    if not rows:
        raise Invalid("no cosignature by a witness this log expects",
                      {"cosignature": ["unknown witness or bad signature"]})
    with database.writing(session) as conn:
        for row in rows:  # one per witness: its newest
            conn.execute(delete(COSIGNATURES).where(COSIGNATURES.c.witness == row["witness"]))
        conn.execute(insert(COSIGNATURES), rows)
    return len(rows)


def lines(session: Session, size: int, root: bytes) -> list[str]:
    """The stored cosignature lines of the checkpoint of this size and root."""
    return list(session.execute(select(COSIGNATURES.c.line).where(
        COSIGNATURES.c.tree_size == size, COSIGNATURES.c.root == root)
        .order_by(COSIGNATURES.c.witness)).scalars())
