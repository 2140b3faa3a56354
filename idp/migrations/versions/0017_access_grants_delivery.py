"""access grants, delivery outbox, directory sync

Grants of access per identity and resource with their reasons; the outbox of delivery jobs
written in the grant change's own transaction; each organization's directory sync bookmark;
and what the directory last said of each account (``directory_state``).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 14:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from idp.storage.base import UtcDateTime

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'access_grants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('identity_id', sa.Integer(), nullable=False),
        sa.Column('resource', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('since', UtcDateTime(), nullable=False),
        sa.Column('until', UtcDateTime(), nullable=True),
        sa.Column('because', sa.JSON(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['identity_id'], ['identities.id'],
                                name=op.f('fk_access_grants_identity_id_identities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_access_grants')),
        sa.UniqueConstraint('identity_id', 'resource',
                            name=op.f('uq_access_grants_identity_id')),
    )
    op.create_index(op.f('ix_access_grants_identity_id'), 'access_grants', ['identity_id'])
    op.create_index(op.f('ix_access_grants_state'), 'access_grants', ['state'])
    op.create_table(
        'delivery_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=64), nullable=False),
        sa.Column('connector', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('resource', sa.String(length=64), nullable=False),
        sa.Column('identity_id', sa.Integer(), nullable=False),
        sa.Column('campus_id', sa.String(length=16), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UtcDateTime(), nullable=False),
        sa.Column('claimed_at', UtcDateTime(), nullable=True),
        sa.Column('claimed_by', sa.String(length=128), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_jobs')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_delivery_jobs_idempotency_key')),
    )
    op.create_index('ix_delivery_jobs_due', 'delivery_jobs', ['state', 'next_attempt_at'])
    op.create_index('ix_delivery_jobs_order', 'delivery_jobs', ['connector', 'identity_id', 'id'])
    op.create_table(
        'directory_sync_state',
        sa.Column('organization', sa.String(length=32), nullable=False),
        sa.Column('mark', sa.String(length=64), nullable=True),
        sa.Column('last_full_at', UtcDateTime(), nullable=True),
        sa.Column('last_sync_at', UtcDateTime(), nullable=True),
        sa.Column('last_result', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('organization', name=op.f('pk_directory_sync_state')),
    )
    op.create_table(
        'policy_fingerprints',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_policy_fingerprints')),
    )
    op.add_column('linked_accounts', sa.Column('directory_state', sa.String(length=16),
                                               nullable=False, server_default='active'))
    op.add_column('linked_accounts', sa.Column('directory_seen_at', UtcDateTime(),
                                               nullable=True))


def downgrade() -> None:
    op.drop_column('linked_accounts', 'directory_seen_at')
    op.drop_column('linked_accounts', 'directory_state')
    op.drop_table('policy_fingerprints')
    op.drop_table('directory_sync_state')
    op.drop_index('ix_delivery_jobs_order', table_name='delivery_jobs')
    op.drop_index('ix_delivery_jobs_due', table_name='delivery_jobs')
    op.drop_table('delivery_jobs')
    op.drop_index(op.f('ix_access_grants_state'), table_name='access_grants')
    op.drop_index(op.f('ix_access_grants_identity_id'), table_name='access_grants')
    op.drop_table('access_grants')
