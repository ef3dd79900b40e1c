"""chain head keeps the hash before its last move

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chain_head') as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('chain_head') as batch_op:
        batch_op.drop_column('prev_hash')
