"""people: the keyed hash over the case-folded address (M-05); webhook endpoints and outbox (L-09)

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
down_revision = "0012"
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
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("events", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoint")))
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("msg_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoint.id"],
                                name=op.f("fk_webhook_delivery_endpoint_id_webhook_endpoint")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_webhook_delivery_msg_id")))
    with op.batch_alter_table("webhook_delivery") as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_delivery_endpoint_id"), ["endpoint_id"])
        batch_op.create_index(batch_op.f("ix_webhook_delivery_next_at"), ["next_at"])


def downgrade():
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_endpoint")
    _rekey(lambda address: address)
