"""identity lock

The helpdesk's lock on a campus identity (``idp.identity.lock``): when it was locked, by whom
and why; all empty for an identity that is not locked.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from idp.storage.base import UtcDateTime

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('identities') as batch:
        batch.add_column(sa.Column('locked_at', UtcDateTime(), nullable=True))
        batch.add_column(sa.Column('locked_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('lock_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('identities') as batch:
        batch.drop_column('lock_reason')
        batch.drop_column('locked_by')
        batch.drop_column('locked_at')
