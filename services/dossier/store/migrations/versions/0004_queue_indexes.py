"""queue indexes: "assigned to me" over open dossiers; the open queue carries due_at

Revision ID: 0004_queue_indexes
Revises: 0003_lifecycle
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_queue_indexes'
down_revision = '0003_lifecycle'
branch_labels = None
depends_on = None

# Word for word the models' OPEN_STATUS, which the queries repeat with literals.
OPEN = sa.text("status_code NOT IN (3, 7, 8, 10)")


def upgrade() -> None:
    with op.batch_alter_table('dossiers', schema=None) as batch:
        batch.drop_index('ix_dossiers_agency_open', sqlite_where=OPEN, postgresql_where=OPEN)
        # INCLUDE (PostgreSQL only) lets the overdue count and "assigned to me" counts be
        # answered from the index without reading the table.
        batch.create_index('ix_dossiers_agency_open', ['agency_code', 'queue_at', 'code'],
                           sqlite_where=OPEN, postgresql_where=OPEN, postgresql_include=['status_code', 'due_at'])
        # The agency as a key column (an official has one, so it narrows nothing): checked
        # in the index, not on each row, and at a million dossiers the planner then reads
        # this index in queue order instead of intersecting two bitmaps and sorting.
        batch.create_index('ix_dossiers_assignee_open', ['assignee_id', 'agency_code', 'queue_at', 'code'],
                           sqlite_where=OPEN, postgresql_where=OPEN, postgresql_include=['status_code', 'due_at'])


def downgrade() -> None:
    with op.batch_alter_table('dossiers', schema=None) as batch:
        batch.drop_index('ix_dossiers_assignee_open', sqlite_where=OPEN, postgresql_where=OPEN)
        batch.drop_index('ix_dossiers_agency_open', sqlite_where=OPEN, postgresql_where=OPEN)
        batch.create_index('ix_dossiers_agency_open', ['agency_code', 'queue_at', 'code'],
                           sqlite_where=OPEN, postgresql_where=OPEN)
