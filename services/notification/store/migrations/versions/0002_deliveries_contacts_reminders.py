"""deliveries, contact directory, preferences, deadlines, fired reminders, outbox

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

from services.platform.db import UtcDateTime

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_ref', sa.String(length=120), nullable=False, server_default=''))

    op.create_table(
        'deliveries',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('source_id', sa.String(length=100), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('destination', sa.String(length=320), nullable=False),
        sa.Column('destination_masked', sa.String(length=320), nullable=False),
        sa.Column('event_type', sa.String(length=60), nullable=False),
        sa.Column('dossier_code', sa.String(length=80), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('template_ref', sa.String(length=120), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UtcDateTime(), nullable=True),
        sa.Column('expires_at', UtcDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.Column('settled_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_id', 'account_id', 'channel', name='uq_delivery_once'),
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['next_attempt_at'])
    op.create_index('ix_deliveries_dossier', 'deliveries', ['dossier_code'])

    op.create_table(
        'contacts',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=False),
        sa.Column('email_verified', sa.Boolean(), nullable=False),
        sa.Column('phone_verified', sa.Boolean(), nullable=False),
        sa.Column('locale', sa.String(length=5), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('agency_code', sa.String(length=40), nullable=False),
        sa.Column('roles', sa.String(length=300), nullable=False),
        sa.Column('event_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('account_id'),
    )
    op.create_index('ix_contacts_agency', 'contacts', ['agency_code'])

    op.create_table(
        'preferences',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('inbox', sa.Boolean(), nullable=False),
        sa.Column('email', sa.Boolean(), nullable=False),
        sa.Column('sms', sa.Boolean(), nullable=False),
        sa.Column('locale', sa.String(length=5), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('account_id'),
    )

    op.create_table(
        'dossier_deadlines',
        sa.Column('dossier_code', sa.String(length=80), nullable=False),
        sa.Column('agency_code', sa.String(length=40), nullable=False),
        sa.Column('procedure_name', sa.String(length=500), nullable=False),
        sa.Column('assignee_id', sa.String(length=36), nullable=False),
        sa.Column('due_at', UtcDateTime(), nullable=True),
        sa.Column('open', sa.Boolean(), nullable=False),
        sa.Column('event_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('dossier_code'),
    )
    op.create_index('ix_deadlines_due', 'dossier_deadlines', ['open', 'due_at'])

    op.create_table(
        'fired_reminders',
        sa.Column('dossier_code', sa.String(length=80), nullable=False),
        sa.Column('threshold_key', sa.String(length=60), nullable=False),
        sa.Column('fired_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('dossier_code', 'threshold_key'),
    )

    op.create_table(
        'outbox',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('published_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id'),
    )
    op.create_index('ix_outbox_pending', 'outbox', ['id'], sqlite_where=sa.text('published_at IS NULL'),
                    postgresql_where=sa.text('published_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_pending', table_name='outbox')
    op.drop_table('outbox')
    op.drop_table('fired_reminders')
    op.drop_index('ix_deadlines_due', table_name='dossier_deadlines')
    op.drop_table('dossier_deadlines')
    op.drop_table('preferences')
    op.drop_index('ix_contacts_agency', table_name='contacts')
    op.drop_table('contacts')
    op.drop_index('ix_deliveries_dossier', table_name='deliveries')
    op.drop_index('ix_deliveries_due', table_name='deliveries')
    op.drop_table('deliveries')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('template_ref')
