"""documents: uploaded files, owned by the uploader until attached to a dossier

Revision ID: 0002_documents
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_documents'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'documents',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('owner_id', sa.String(length=36), nullable=False),
        sa.Column('uploaded_by', sa.String(length=36), nullable=False),
        sa.Column('requirement_id', sa.String(length=40), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('declared_content_type', sa.String(length=120), nullable=False),
        sa.Column('content_type', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=True),
        sa.Column('dossier_code', sa.String(length=60), nullable=True),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attached_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uploaded_by', 'idempotency_key', name='uq_documents_idempotency'),
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('ix_documents_owner', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_documents_dossier', ['dossier_code', 'requirement_id', 'version'], unique=False)
        batch_op.create_index('ix_documents_sha256', ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_sha256')
        batch_op.drop_index('ix_documents_dossier')
        batch_op.drop_index('ix_documents_owner')
    op.drop_table('documents')
