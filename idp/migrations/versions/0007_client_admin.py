"""client admin

The organization admin UI: a client can be disabled (``disabled_at``: it logs nobody in and
gets no tokens while set) and its secret rotated with an overlap window, during which the
previous secret (kept as a digest, ``previous_secret_hash``) still works until
``previous_secret_expires_at``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 05:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.storage.base

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', idp.storage.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_hash', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_expires_at', idp.storage.base.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('previous_secret_expires_at')
        batch_op.drop_column('previous_secret_hash')
        batch_op.drop_column('disabled_at')
