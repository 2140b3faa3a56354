"""delivery request id

The request (or job, or command) that queued a back-channel delivery or a connector's delivery
job: ``logout_deliveries.request_id`` and ``delivery_jobs.request_id``. Each delivery is
attempted under that id, so its audit events and log lines carry the id of the helpdesk click
or logout that caused it (docs/operations.md, "Logs"). Empty for the rows queued before this
revision: those are attempted under an id of their own. Not indexed: an operator looks the
id up in the audit trail (``audit_events.request_id`` is indexed), and these tables are queues
written at every grant change.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

TABLES = ('logout_deliveries', 'delivery_jobs')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('request_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, 'request_id')  # SQLite 3.35 and later drop it in place
