"""Alembic migrations go up and down on SQLite and PostgreSQL, and the server refuses a
database that is behind them."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from idp.errors import DatabaseNotReady
from idp.storage import Base
from idp.storage.base import make_engine
from idp.storage.migrate import current_revision, downgrade, ensure_current, head_revision, upgrade


def test_upgrade_creates_every_table_and_downgrade_removes_them(database_url: str) -> None:
    engine = make_engine(database_url)
    with pytest.raises(DatabaseNotReady, match="Run `idp db upgrade`"):
        ensure_current(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    ensure_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    """A model change without a migration fails here (autogenerate finds no difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
