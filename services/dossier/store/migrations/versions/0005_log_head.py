"""the log's end on the dossier row; supplement stage; the step a derived dossier handles

Revision ID: 0005_log_head
Revises: 0004_queue_indexes
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_log_head'
down_revision = '0004_queue_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('dossiers', sa.Column('parent_step', sa.Integer(), nullable=True))
    op.add_column('dossiers', sa.Column('supplement_stage', sa.Integer(), nullable=True))
    op.add_column('dossiers', sa.Column('log_seq', sa.Integer(), nullable=True))
    op.add_column('dossiers', sa.Column('log_head', sa.String(length=64), nullable=True))
    # Existing dossiers: the end of the log as it stands.
    op.execute("UPDATE dossiers SET "
               "log_seq = (SELECT max(l.seq) FROM dossier_log l WHERE l.dossier_code = dossiers.code), "
               "log_head = (SELECT l.hash FROM dossier_log l WHERE l.dossier_code = dossiers.code "
               "ORDER BY l.seq DESC LIMIT 1)")


def downgrade() -> None:
    with op.batch_alter_table('dossiers', schema=None) as batch:
        batch.drop_column('log_head')
        batch.drop_column('log_seq')
        batch.drop_column('supplement_stage')
        batch.drop_column('parent_step')
