"""the Merkle tree over the ledger: its complete subtrees, witnesses' cosignatures (issue 22)

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-07 00:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tree_node',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'index', name=op.f('pk_tree_node'))
    )
    op.create_table('tree_cosignature',
    sa.Column('witness', sa.String(length=8), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('time', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('witness', name=op.f('pk_tree_cosignature'))
    )


def downgrade():
    op.drop_table('tree_cosignature')
    op.drop_table('tree_node')
