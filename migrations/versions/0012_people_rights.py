"""people's rights: restriction of processing (Art. 18), a new address awaiting confirmation

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-07 01:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person') as batch_op:
        batch_op.add_column(sa.Column('restricted_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('new_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('new_email_nonce', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('person') as batch_op:
        batch_op.drop_column('new_email_nonce')
        batch_op.drop_column('new_email')
        batch_op.drop_column('restricted_at')
