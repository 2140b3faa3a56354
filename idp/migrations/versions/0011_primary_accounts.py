"""primary accounts

The account a person chose on "My Campus ID" as the source of their single-valued claims
(name, e-mail): at most one per identity (``identity_id`` is the key) and an account is the
choice of one identity at most. No row: the configured precedence decides, as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.storage.base

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('primary_accounts',
    sa.Column('identity_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('chosen_at', idp.storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['linked_accounts.id'], name=op.f('fk_primary_accounts_account_id_linked_accounts')),
    sa.ForeignKeyConstraint(['identity_id'], ['identities.id'], name=op.f('fk_primary_accounts_identity_id_identities')),
    sa.PrimaryKeyConstraint('identity_id', name=op.f('pk_primary_accounts')),
    sa.UniqueConstraint('account_id', name=op.f('uq_primary_accounts_account_id'))
    )


def downgrade() -> None:
    op.drop_table('primary_accounts')
