"""ledger form version 2: a format version per event, basis and details, the salt out of the hash

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:00:00

Events written before keep their version 1 form (v = 1) and keep verifying by it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consent_event') as batch_op:
        batch_op.add_column(sa.Column('v', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('basis', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('details', sa.Text(), nullable=True))
        batch_op.alter_column('pii_salt', existing_type=sa.String(length=32), nullable=True)
    with op.batch_alter_table('consent_event') as batch_op:
        # Every new event names its own version (ledger.new_event); the default was for old rows.
        batch_op.alter_column('v', existing_type=sa.Integer(), server_default=None)


def downgrade():
    # A version 2 event cannot be expressed in version 1: refuse rather than break the chain.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM consent_event WHERE v >= 2")).scalar():
        raise RuntimeError("the ledger holds version 2 events; it cannot go back to 0003")
    with op.batch_alter_table('consent_event') as batch_op:
        batch_op.alter_column('pii_salt', existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_column('details')
        batch_op.drop_column('basis')
        batch_op.drop_column('v')
