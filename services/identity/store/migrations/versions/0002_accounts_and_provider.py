"""accounts of every kind, representations, audit log, one-time codes, throttles; the embedded provider's tables

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('address', sa.String(300), nullable=False, server_default=''))
        batch.add_column(sa.Column('email_verified', sa.Boolean(), nullable=False, server_default=sa.text('false')))
        batch.add_column(sa.Column('phone_verified', sa.Boolean(), nullable=False, server_default=sa.text('false')))
        batch.add_column(sa.Column('enabled', sa.Boolean(), nullable=False, server_default=sa.text('true')))
        batch.add_column(sa.Column('locale', sa.String(10), nullable=False, server_default='vi'))
        batch.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('local_users',
        sa.Column('account_id', sa.String(36), primary_key=True),
        sa.Column('username', sa.String(100), nullable=False, unique=True),
        sa.Column('email', sa.String(254), nullable=False),
        sa.Column('password_hash', sa.Text(), nullable=False),
        sa.Column('full_name', sa.String(200), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('roles', sa.JSON(), nullable=False),
        sa.Column('agency_code', sa.String(35), nullable=False),
        sa.Column('verification_level', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
    )
    op.create_index('ix_local_users_email', 'local_users', ['email'])
    # The passwords move to the embedded provider: accounts keep who someone is, not how they sign in.
    op.execute(
        "INSERT INTO local_users (account_id, username, email, password_hash, full_name, kind, roles, "
        "agency_code, verification_level, enabled) SELECT id, username, email, password_hash, full_name, kind, "
        "roles, agency_code, verification_level, true FROM accounts"
    )
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('password_hash')

    op.create_table('representations',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('body_id', sa.String(36), sa.ForeignKey('accounts.id'), nullable=False),
        sa.Column('person_id', sa.String(36), sa.ForeignKey('accounts.id'), nullable=False),
        sa.Column('role', sa.String(30), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(36), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('body_id', 'person_id', name='uq_representation'),
    )
    op.create_index('ix_representations_person_id', 'representations', ['person_id'])

    op.create_table('account_audit_log',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('account_id', sa.String(36), nullable=False),
        sa.Column('event', sa.String(40), nullable=False),
        sa.Column('actor_id', sa.String(36), nullable=False),
        sa.Column('client_address', sa.String(64), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_audit_account_at', 'account_audit_log', ['account_id', 'id'])

    op.create_table('one_time_codes',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('account_id', sa.String(36), nullable=False),
        sa.Column('purpose', sa.String(30), nullable=False),
        sa.Column('channel', sa.String(10), nullable=False),
        sa.Column('destination', sa.String(254), nullable=False),
        sa.Column('salt', sa.String(64), nullable=False),
        sa.Column('code_hash', sa.String(64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_otp_account_purpose', 'one_time_codes', ['account_id', 'purpose'])

    op.create_table('login_throttles',
        sa.Column('key', sa.String(300), primary_key=True),
        sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('strikes', sa.Integer(), nullable=False),
    )

    op.create_table('refresh_tokens',
        sa.Column('token_hash', sa.String(64), primary_key=True),
        sa.Column('family_id', sa.String(36), nullable=False),
        sa.Column('account_id', sa.String(36), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('family_expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_refresh_tokens_family_id', 'refresh_tokens', ['family_id'])

    op.create_table('machine_clients',
        sa.Column('client_id', sa.String(100), primary_key=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('secret_hash', sa.Text(), nullable=False),
        sa.Column('scopes', sa.JSON(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )

    with op.batch_alter_table('signing_keys') as batch:
        batch.add_column(sa.Column('activates_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('signing_keys') as batch:
        batch.drop_column('activates_at')
    for table in ('machine_clients', 'refresh_tokens', 'login_throttles', 'one_time_codes',
                  'account_audit_log', 'representations'):
        op.drop_table(table)
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('password_hash', sa.Text(), nullable=False, server_default=''))
    op.execute("UPDATE accounts SET password_hash = (SELECT password_hash FROM local_users "
               "WHERE local_users.account_id = accounts.id) WHERE id IN (SELECT account_id FROM local_users)")
    op.drop_index('ix_local_users_email', 'local_users')
    op.drop_table('local_users')
    with op.batch_alter_table('accounts') as batch:
        for column in ('updated_at', 'locale', 'enabled', 'phone_verified', 'email_verified', 'address'):
            batch.drop_column(column)
