"""lifecycle: workflow, deadlines, inter-agency, procedure snapshots, work-queue indexes

Revision ID: 0003_lifecycle
Revises: 0002_documents
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_lifecycle'
down_revision = '0002_documents'
branch_labels = None
depends_on = None

OPEN = sa.text("status_code NOT IN (3, 7, 8, 10)")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('dossiers', schema=None) as batch:
        batch.add_column(sa.Column('queue_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('submitted_by', sa.String(length=36), nullable=False, server_default=''))
        batch.add_column(sa.Column('assignee_id', sa.String(length=36), nullable=True))
        batch.add_column(sa.Column('step_index', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('step_due_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('supplement_requested_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('supplement_count', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('paused_minutes', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('missing_items', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('original_due_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('fees_due_vnd', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('paid_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('result_document_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('return_method', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('finished_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('reason', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('parent_code', sa.String(length=60), nullable=True))
        batch.drop_index('ix_dossiers_queue')
    op.execute("UPDATE dossiers SET queue_at = COALESCE(due_at, submitted_at)")
    with op.batch_alter_table('dossiers', schema=None) as batch:
        batch.create_index('ix_dossiers_agency_queue', ['agency_code', 'status_code', 'queue_at', 'code'])
        batch.create_index('ix_dossiers_assignee_queue', ['assignee_id', 'status_code', 'queue_at', 'code'])
        batch.create_index('ix_dossiers_agency_open', ['agency_code', 'queue_at', 'code'],
                           sqlite_where=OPEN, postgresql_where=OPEN)
        batch.create_index('ix_dossiers_parent', ['parent_code'])

    with op.batch_alter_table('dossier_log', schema=None) as batch:
        batch.add_column(sa.Column('internal', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('internal_note', sa.Text(), nullable=False, server_default=''))

    op.create_table(
        'procedure_snapshots',
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('received_at', UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint('code', 'version'),
    )
    op.create_table(
        'processed_events',
        sa.Column('consumer', sa.String(length=100), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('processed_at', UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint('consumer', 'event_id'),
    )


def downgrade() -> None:
    op.drop_table('processed_events')
    op.drop_table('procedure_snapshots')
    with op.batch_alter_table('dossier_log', schema=None) as batch:
        batch.drop_column('internal_note')
        batch.drop_column('internal')
    with op.batch_alter_table('dossiers', schema=None) as batch:
        batch.drop_index('ix_dossiers_parent')
        batch.drop_index('ix_dossiers_agency_open', sqlite_where=OPEN, postgresql_where=OPEN)
        batch.drop_index('ix_dossiers_assignee_queue')
        batch.drop_index('ix_dossiers_agency_queue')
        batch.create_index('ix_dossiers_queue', ['agency_code', 'status_code', 'due_at'])
        for column in ('parent_code', 'reason', 'finished_at', 'return_method', 'result_document_id', 'paid_at',
                       'fees_due_vnd', 'original_due_at', 'missing_items', 'paused_minutes', 'supplement_count',
                       'supplement_requested_at', 'step_due_at', 'step_index', 'assignee_id', 'submitted_by',
                       'queue_at'):
            batch.drop_column(column)
