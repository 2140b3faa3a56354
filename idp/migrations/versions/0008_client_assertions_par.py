"""client assertions, pairwise subjects, pushed authorization requests

Clients gain their public keys (``jwks`` or ``jwks_uri``) for private_key_jwt (RFC 7523) and
signed request objects (RFC 9101) with the registered ``request_object_signing_alg``; the
``require_pushed_authorization_requests`` flag (RFC 9126); and their subject type with the
sector pairwise subjects are computed for (OpenID Connect Core 8). Existing clients stay public
and may push without being made to. ``client_assertion_jtis`` keeps spent assertion ids until
they expire; ``pushed_authorization_requests`` keeps pushed requests for their short lifetime.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 05:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.storage.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('client_assertion_jtis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('jti', sa.String(length=255), nullable=False),
    sa.Column('expires_at', idp.storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['clients.id'], name=op.f('fk_client_assertion_jtis_client_pk_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_assertion_jtis')),
    sa.UniqueConstraint('client_pk', 'jti', name=op.f('uq_client_assertion_jtis_client_pk'))
    )
    with op.batch_alter_table('client_assertion_jtis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_assertion_jtis_expires_at'), ['expires_at'], unique=False)

    op.create_table('pushed_authorization_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference_hash', sa.String(length=64), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', idp.storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', idp.storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('used_at', idp.storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['clients.id'], name=op.f('fk_pushed_authorization_requests_client_pk_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pushed_authorization_requests')),
    sa.UniqueConstraint('reference_hash', name=op.f('uq_pushed_authorization_requests_reference_hash'))
    )
    with op.batch_alter_table('pushed_authorization_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pushed_authorization_requests_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jwks', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('jwks_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('request_object_signing_alg', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('require_pushed_authorization_requests', sa.Boolean(),
                                      nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('subject_type', sa.String(length=16), nullable=False,
                                      server_default='public'))
        batch_op.add_column(sa.Column('sector_identifier', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('sector_identifier')
        batch_op.drop_column('subject_type')
        batch_op.drop_column('require_pushed_authorization_requests')
        batch_op.drop_column('request_object_signing_alg')
        batch_op.drop_column('jwks_uri')
        batch_op.drop_column('jwks')

    with op.batch_alter_table('pushed_authorization_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pushed_authorization_requests_expires_at'))
    op.drop_table('pushed_authorization_requests')
    with op.batch_alter_table('client_assertion_jtis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_assertion_jtis_expires_at'))
    op.drop_table('client_assertion_jtis')
