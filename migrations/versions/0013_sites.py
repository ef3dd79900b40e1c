"""several sites of one controller: the site of every event, state and notice version

Events, states and notice versions before it belong to the one site there was, "default" (the
id of a site file without [[sites]]); events from here on hash their site (ledger v3).

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-07 04:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ('consent_event', 'consent_state', 'policy_version')


def upgrade():
    for table in TABLES:  # a column with a default: no table is rewritten on either engine
        op.add_column(table, sa.Column('site', sa.String(length=32), nullable=False,
                                       server_default='default'))


def downgrade():
    # ALTER TABLE ... DROP COLUMN on both (SQLite 3.35 on): a batch copy of policy_version
    # would drop a table that policy_text's foreign key names.
    for table in TABLES:
        op.drop_column(table, 'site')
