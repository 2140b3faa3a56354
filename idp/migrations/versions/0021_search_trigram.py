"""search trigram

Helpdesk search by Latin spelling and with one typo forgiven: each linked account's name words
get their Latin skeleton as a term beside them (``idp.storage.search.skeleton_term``,
``~elkina`` for Ёлкина), filled here for the accounts that exist, in batches; on PostgreSQL the
``pg_trgm`` extension (trusted since PostgreSQL 13: a database owner may create it; Debian's
postgresql package has it) and a GIN trigram index on the skeleton terms (partial: ``term LIKE
'~%'``), which ``term % '~word'`` reads. SQLite gets the terms, and the index only declared
(``WHERE 0``: empty).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index('ix_account_search_terms_trgm', 'account_search_terms', ['term'],
                        unique=False, postgresql_using='gin',
                        postgresql_ops={'term': 'gin_trgm_ops'},
                        postgresql_where=sa.text("term LIKE '~%'"))
    else:  # declared, empty: SQLite searches without similar spellings
        op.create_index('ix_account_search_terms_trgm', 'account_search_terms', ['term'],
                        unique=False, sqlite_where=sa.text('0'))
    _fill()


def _fill() -> None:
    from idp.storage.search import SKELETON, terms_of

    bind = op.get_bind()
    accounts = sa.table('linked_accounts', sa.column('id', sa.Integer), sa.column('username', sa.String),
                        sa.column('attributes', sa.JSON))
    terms = sa.table('account_search_terms', sa.column('account_id', sa.Integer),
                     sa.column('term', sa.String))
    bind.execute(terms.delete().where(terms.c.term.like(f"{SKELETON}%")))  # filled by 0014 now
    after = 0
    while True:
        batch = list(bind.execute(
            sa.select(accounts.c.id, accounts.c.username, accounts.c.attributes)
            .where(accounts.c.id > after).order_by(accounts.c.id).limit(BATCH)))
        if not batch:
            return
        rows = [{"account_id": a.id, "term": t} for a in batch
                for t in terms_of(a.username or "", a.attributes or {}) if t.startswith(SKELETON)]
        if rows:
            bind.execute(terms.insert(), rows)
        after = batch[-1].id


def downgrade() -> None:
    from idp.storage.search import SKELETON

    terms = sa.table('account_search_terms', sa.column('term', sa.String))
    op.get_bind().execute(terms.delete().where(terms.c.term.like(f"{SKELETON}%")))
    op.drop_index('ix_account_search_terms_trgm', table_name='account_search_terms')
