"""people: the keyed hash of a person's address taken over the case-folded address (M-05)

Every person whose address is still held is re-keyed: `address_hash` becomes the HMAC of the
address trimmed, NFC and case-folded whole (`subject` stays: it names the person in the ledger).
A person erased before this has no address left to re-key and keeps the old hash; look-ups try
the old form too (people/persons.py `by_address`), so no erased address becomes mailable. Where
the folded hash is already another person's (two spellings held as two people, or an erased one),
the person keeps the old hash as well, and the check gives the stricter of the two answers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:30:00

"""
import hashlib
import hmac
import unicodedata

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PERSON = sa.table("person", sa.column("subject", sa.String), sa.column("address_hash", sa.String),
                  sa.column("email", sa.String))


def _fold(address: str) -> str:
    # The rule of this revision, written out here so that later code cannot change it.
    folded = address.casefold()
    return folded if folded.isascii() else unicodedata.normalize("NFC", folded)


def _rekey(form) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(PERSON.c.subject, PERSON.c.address_hash, PERSON.c.email)).all()
    held = [row for row in rows if row.email is not None]
    if not held:
        return
    key = current_app.config.get("EMAIL_HASH_KEY")
    if not key:
        raise RuntimeError("CONSENT_EMAIL_HASH_KEY is needed to re-key the people's addresses")
    taken = {row.address_hash for row in rows}
    for row in held:
        new = hmac.new(key.encode(), form(row.email).encode(), hashlib.sha256).hexdigest()
        if new == row.address_hash or new in taken:
            continue
        conn.execute(sa.update(PERSON).where(PERSON.c.subject == row.subject)
                     .values(address_hash=new))
        taken.discard(row.address_hash)
        taken.add(new)


def upgrade():
    _rekey(_fold)


def downgrade():
    _rekey(lambda address: address)
