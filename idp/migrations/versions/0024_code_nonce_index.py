"""code nonce index

Every authorization that issues a code asks whether its nonce was used before with that
client (``OpenIDCodeExtension.exists_nonce``). The only index was the client's, so the
question read every code the client was ever given: 513 rows for one nonce after a short
benchmark, growing with every login. A hash index on the nonce answers it from one entry; on
PostgreSQL a hash index (not a B-tree) because a relying party may send a nonce longer than a
B-tree entry may be (2,704 bytes). Building it takes a lock that holds back new codes while it
runs: on a large table, upgrade in a quiet hour.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 17:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_authorization_codes_nonce', 'authorization_codes', ['nonce'],
                    unique=False, postgresql_using='hash')


def downgrade() -> None:
    op.drop_index('ix_authorization_codes_nonce', table_name='authorization_codes')
