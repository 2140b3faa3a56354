"""client assertions, pairwise subjects, pushed authorization requests

Claimed by the private_key_jwt / pairwise / PAR work; body completed with the model code.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 05:15:00.000000
"""

from __future__ import annotations

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
