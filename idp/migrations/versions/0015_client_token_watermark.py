"""client token watermark

Access tokens of the client credentials grant in the JWT format (RFC 9068) are self-contained
and no longer stored, so "revoke every token of this client" (a client disabled or deleted)
cannot mark their rows. ``clients.tokens_revoked_before`` records that moment instead: a
self-contained token issued (``iat``) at or before it is inactive, whatever happens to the
client afterwards. NULL: nothing revoked that way yet.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 08:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.storage.base

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tokens_revoked_before',
                                      idp.storage.base.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('tokens_revoked_before')
