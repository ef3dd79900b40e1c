"""people: the address table and the existing-customer basis

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person',
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('consent_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pending', sa.Text(), nullable=True),
    sa.Column('pending_policy_version', sa.String(length=32), nullable=True),
    sa.Column('signup_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signup_ip', sa.String(length=64), nullable=True),
    sa.Column('confirm_nonce', sa.String(length=32), nullable=True),
    sa.Column('mail_due', sa.Boolean(), nullable=False),
    sa.Column('mail_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('subject', name=op.f('pk_person')),
    sa.UniqueConstraint('address_hash', name=op.f('uq_person_address_hash'))
    )
    with op.batch_alter_table('person') as batch_op:
        batch_op.create_index(batch_op.f('ix_person_mail_due'), ['mail_due'], unique=False)
    op.create_table('customer_basis',
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('product_category', sa.String(length=64), nullable=False),
    sa.Column('sale_date', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subject'], ['person.subject'],
                            name=op.f('fk_customer_basis_subject_person')),
    sa.PrimaryKeyConstraint('subject', 'product_category', name=op.f('pk_customer_basis'))
    )


def downgrade():
    op.drop_table('customer_basis')
    with op.batch_alter_table('person') as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_mail_due'))
    op.drop_table('person')
