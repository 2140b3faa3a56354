"""campus cards

The campus card numbers issued to each identity: unique and never reused (revoked cards
stay), at most one active card per identity.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from idp.storage.base import UtcDateTime

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'campus_cards',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('identity_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('issued_at', UtcDateTime(), nullable=False),
        sa.Column('revoked_at', UtcDateTime(), nullable=True),
        sa.Column('revoke_reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['identity_id'], ['identities.id'],
                                name=op.f('fk_campus_cards_identity_id_identities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campus_cards')),
        sa.UniqueConstraint('number', name=op.f('uq_campus_cards_number')),
    )
    op.create_index(op.f('ix_campus_cards_identity_id'), 'campus_cards', ['identity_id'])
    op.create_index('uq_campus_cards_active', 'campus_cards', ['identity_id'], unique=True,
                    postgresql_where=sa.text("state = 'active'"),
                    sqlite_where=sa.text("state = 'active'"))


def downgrade() -> None:
    op.drop_index('uq_campus_cards_active', table_name='campus_cards')
    op.drop_index(op.f('ix_campus_cards_identity_id'), table_name='campus_cards')
    op.drop_table('campus_cards')
