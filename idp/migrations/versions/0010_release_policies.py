"""release policies

Attribute release per relying party: ``release_policies`` holds, for a client, the claims it
may receive: the consortium default (``organization`` empty) and, per organization, a
narrowing for that organization's people. No row: every claim of the granted scopes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.storage.base

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('release_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('organization', sa.String(length=32), nullable=False),
    sa.Column('claims', sa.JSON(), nullable=False),
    sa.Column('updated_at', idp.storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['clients.id'], name=op.f('fk_release_policies_client_pk_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release_policies')),
    sa.UniqueConstraint('client_pk', 'organization', name=op.f('uq_release_policies_client_pk'))
    )
    with op.batch_alter_table('release_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_release_policies_client_pk'), ['client_pk'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('release_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_release_policies_client_pk'))

    op.drop_table('release_policies')
