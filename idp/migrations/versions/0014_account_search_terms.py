"""account search terms

Helpdesk identity search by name, e-mail or username without a full scan: each linked
account's normalised words (``idp.storage.search.terms_of``) in ``account_search_terms``,
indexed for prefix matches (``text_pattern_ops`` on PostgreSQL, so that ``LIKE 'x%'`` uses it
whatever the database's collation). Filled here from the accounts that exist; kept in step by
the storage layer afterwards.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 05:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_search_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['linked_accounts.id'], name=op.f('fk_account_search_terms_account_id_linked_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_search_terms'))
    )
    with op.batch_alter_table('account_search_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_search_terms_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_account_search_terms_term', ['term'], unique=False,
                              postgresql_ops={'term': 'text_pattern_ops'})
    _fill()


def _fill() -> None:
    from idp.storage.search import terms_of

    bind = op.get_bind()
    accounts = sa.table('linked_accounts', sa.column('id', sa.Integer), sa.column('username', sa.String),
                        sa.column('attributes', sa.JSON))
    terms = sa.table('account_search_terms', sa.column('account_id', sa.Integer),
                     sa.column('term', sa.String))
    rows = [{"account_id": a.id, "term": t}
            for a in bind.execute(sa.select(accounts.c.id, accounts.c.username, accounts.c.attributes))
            for t in terms_of(a.username, a.attributes or {})]
    if rows:
        op.bulk_insert(terms, rows)


def downgrade() -> None:
    with op.batch_alter_table('account_search_terms', schema=None) as batch_op:
        batch_op.drop_index('ix_account_search_terms_term', postgresql_ops={'term': 'text_pattern_ops'})
        batch_op.drop_index(batch_op.f('ix_account_search_terms_account_id'))

    op.drop_table('account_search_terms')
