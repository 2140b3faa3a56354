"""identity merge

Merging and unlinking campus identities: ``identity_aliases`` maps the retired ``sub`` of an
identity absorbed by a merge to the identity answering for it now (unique: a sub is never
reused); identities gain a ``status`` (``active``, or ``merged``) and the identity they were
merged into; clients gain their helpdesk API ``roles``. Existing identities are active and
existing clients have no roles.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.storage.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=64), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=False),
    sa.Column('created_at', idp.storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['identity_id'], ['identities.id'], name=op.f('fk_identity_aliases_identity_id_identities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_aliases')),
    sa.UniqueConstraint('sub', name=op.f('uq_identity_aliases_sub'))
    )
    with op.batch_alter_table('identity_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_aliases_identity_id'), ['identity_id'], unique=False)

    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_identities_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_identities_merged_into_id_identities'), 'identities', ['merged_into_id'], ['id'])

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('roles', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))

    # The defaults above only fill the rows that exist; new rows get theirs from the models.
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.alter_column('status', server_default=None)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.alter_column('roles', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('roles')

    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_identities_merged_into_id_identities'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_identities_merged_into_id'))
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('status')

    with op.batch_alter_table('identity_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_aliases_identity_id'))

    op.drop_table('identity_aliases')
