"""hardening: the staff account's session key (sign-out ends its sessions server-side), the
time of a person's last access link (a resend limit)

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07 00:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_key', sa.String(length=64), nullable=True))
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('access_sent_at')
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('session_key')
