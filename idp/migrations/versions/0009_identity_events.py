"""identity events

Security Event Tokens about identities (merge, unlink) reach relying parties through the
back-channel delivery queue that logout tokens already use: ``logout_deliveries`` gains a
``kind`` (``logout`` for logout tokens, ``set`` for Security Event Tokens; existing rows are
logout tokens), and clients gain the ``event_delivery_uri`` they registered for pushed SETs
(RFC 8935). Existing clients receive no events.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('logout_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False,
                                      server_default='logout'))
    with op.batch_alter_table('logout_deliveries', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_delivery_uri', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('event_delivery_uri')

    with op.batch_alter_table('logout_deliveries', schema=None) as batch_op:
        batch_op.drop_column('kind')
