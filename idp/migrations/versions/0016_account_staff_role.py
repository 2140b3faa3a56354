"""account staff role

A staff role belongs to the account that signed in, never to the identity it is linked to.
Roles from a directory group are learnt only when that account signs in to the admin UI;
``linked_accounts.staff_role`` keeps what was learnt last, so that automatic linking can
refuse to attach an account to an identity with a staff account (or to move one), which
becomes a proposal instead. Roles from ``[roles]`` are read from the configuration directly.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE, also on SQLite: a batch copy of linked_accounts would drop the
    # table that other tables' rows refer to, which SQLite's foreign keys refuse.
    op.add_column('linked_accounts', sa.Column('staff_role', sa.Boolean(), nullable=False,
                                               server_default=sa.false()))


def downgrade() -> None:
    op.drop_column('linked_accounts', 'staff_role')  # SQLite 3.35 and later drop it in place
