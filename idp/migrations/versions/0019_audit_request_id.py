"""audit request id

The request (or background job, or command) during which an audit event was written, so
that an operator can find the log lines of that event: ``audit_events.request_id``, empty
for the events written before this revision. Indexed, because an operator looks events up by
the id a log line or a user's error page gave.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('request_id', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_audit_events_request_id'), 'audit_events', ['request_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_events_request_id'), table_name='audit_events')
    op.drop_column('audit_events', 'request_id')  # SQLite 3.35 and later drop it in place
