"""the last reminder fired on each deadline, so the scheduler reads only what is due

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dossier_deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded', sa.String(length=20), nullable=False, server_default=''))
    op.drop_index('ix_deadlines_due', table_name='dossier_deadlines')
    op.create_index('ix_deadlines_next_reminder', 'dossier_deadlines', ['open', 'reminded', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_deadlines_next_reminder', table_name='dossier_deadlines')
    op.create_index('ix_deadlines_due', 'dossier_deadlines', ['open', 'due_at'])
    with op.batch_alter_table('dossier_deadlines', schema=None) as batch_op:
        batch_op.drop_column('reminded')
