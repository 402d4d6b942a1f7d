"""representations.status: confirmed or unconfirmed (a claim the business registry has not confirmed)

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
    # Links made before the registry was asked stay as they were: confirmed.
    with op.batch_alter_table('representations') as batch:
        batch.add_column(sa.Column('status', sa.String(20), nullable=False, server_default='confirmed'))


def downgrade() -> None:
    with op.batch_alter_table('representations') as batch:
        batch.drop_column('status')
