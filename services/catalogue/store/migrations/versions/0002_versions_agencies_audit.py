"""procedure versions with effective dates, agency successors and validity, audit trail

Revision ID: 0002_versions_audit
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_versions_audit'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('procedures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effective_from', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('effective_to', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updated_by', sa.String(length=200), nullable=False, server_default=''))
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('successor_code', sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'catalogue_audit',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.String(length=64), nullable=False),
        sa.Column('actor_name', sa.String(length=200), nullable=False),
        sa.Column('action', sa.String(length=30), nullable=False),
        sa.Column('entity', sa.String(length=20), nullable=False),
        sa.Column('entity_key', sa.String(length=40), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_catalogue_audit_entity', 'catalogue_audit', ['entity', 'entity_key', 'id'])


def downgrade() -> None:
    op.drop_index('ix_catalogue_audit_entity', table_name='catalogue_audit')
    op.drop_table('catalogue_audit')
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.drop_column('valid_to')
        batch_op.drop_column('valid_from')
        batch_op.drop_column('successor_code')
    with op.batch_alter_table('procedures', schema=None) as batch_op:
        batch_op.drop_column('updated_by')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('effective_to')
        batch_op.drop_column('effective_from')
