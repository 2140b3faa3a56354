"""consent claims

A remembered consent also records the claims the person saw listed (``consents.claims``), so
a release policy widened later asks again instead of releasing what nobody agreed to.
Existing consents have none recorded (NULL): they keep covering their scopes as before.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 05:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claims', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('claims')
