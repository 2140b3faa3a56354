"""key rotation

Signing keys are published before they sign: ``activates_at`` is when a key starts signing
(``idp keys rotate`` sets it after ``[keys] activation_delay_s``; keys made on first start, and
keys from before this revision, are active from their creation); ``activated_at`` is when the
provider noticed that moment and wrote ``key.activated`` to the audit trail.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.storage.base

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('activates_at', idp.storage.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('activated_at', idp.storage.base.UtcDateTime(timezone=True), nullable=True))
    op.execute("UPDATE signing_keys SET activates_at = created_at, activated_at = created_at")
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.alter_column('activates_at', existing_type=idp.storage.base.UtcDateTime(timezone=True),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_column('activated_at')
        batch_op.drop_column('activates_at')
