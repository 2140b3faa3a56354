"""name skeletons

The helpdesk search's typo forgiveness reads a vocabulary instead of every account's terms:
``name_skeletons`` holds each distinct skeleton term once (``~elkina`` however many Ёлкины
there are), and on PostgreSQL its GIN trigram index answers ``term % '~elkna'`` from a few
thousand names rather than from every account's; the accounts are then found by their terms'
index, by equality. A trigger keeps the vocabulary: every skeleton term written to
``account_search_terms``, by whichever code, is added once (terms that no account has any more
stay, finding nobody). The trigram index on ``account_search_terms`` goes, and its term index
becomes a covering one (``INCLUDE (account_id)``), so a prefix reads the index alone. SQLite:
the table only (it searches without typos).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 08:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

KEEP = """
CREATE FUNCTION name_skeletons_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_skeletons (term)
    SELECT DISTINCT term FROM new_terms WHERE term LIKE '~%' ORDER BY term
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$
"""
TRIGGER = """
CREATE TRIGGER account_search_terms_skeletons AFTER INSERT ON account_search_terms
REFERENCING NEW TABLE AS new_terms FOR EACH STATEMENT EXECUTE FUNCTION name_skeletons_keep()
"""


def upgrade() -> None:
    op.create_table('name_skeletons',
                    sa.Column('term', sa.String(length=200), nullable=False),
                    sa.PrimaryKeyConstraint('term', name=op.f('pk_name_skeletons')))
    op.drop_index('ix_account_search_terms_trgm', table_name='account_search_terms')
    if op.get_bind().dialect.name != "postgresql":
        op.create_index('ix_name_skeletons_trgm', 'name_skeletons', ['term'], unique=False,
                        sqlite_where=sa.text('0'))
        return
    op.execute("INSERT INTO name_skeletons (term) SELECT DISTINCT term FROM account_search_terms "
               "WHERE term LIKE '~%'")
    op.create_index('ix_name_skeletons_trgm', 'name_skeletons', ['term'], unique=False,
                    postgresql_using='gin', postgresql_ops={'term': 'gin_trgm_ops'})
    op.execute(KEEP)
    op.execute(TRIGGER)
    op.drop_index('ix_account_search_terms_term', table_name='account_search_terms')
    op.create_index('ix_account_search_terms_term', 'account_search_terms', ['term'],
                    unique=False, postgresql_ops={'term': 'text_pattern_ops'},
                    postgresql_include=['account_id'])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index('ix_account_search_terms_trgm', 'account_search_terms', ['term'],
                        unique=False, sqlite_where=sa.text('0'))
    else:
        op.drop_index('ix_account_search_terms_term', table_name='account_search_terms')
        op.create_index('ix_account_search_terms_term', 'account_search_terms', ['term'],
                        unique=False, postgresql_ops={'term': 'text_pattern_ops'})
        op.create_index('ix_account_search_terms_trgm', 'account_search_terms', ['term'],
                        unique=False, postgresql_using='gin',
                        postgresql_ops={'term': 'gin_trgm_ops'},
                        postgresql_where=sa.text("term LIKE '~%'"))
        op.execute("DROP TRIGGER account_search_terms_skeletons ON account_search_terms")
        op.execute("DROP FUNCTION name_skeletons_keep()")
    op.drop_index('ix_name_skeletons_trgm', table_name='name_skeletons')
    op.drop_table('name_skeletons')
