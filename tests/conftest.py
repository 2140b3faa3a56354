"""Shared fixtures: databases (SQLite and a throwaway PostgreSQL database per run)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from demo.throwaway_db import throwaway_database
from idp.storage.base import make_engine, make_session_factory
from idp.storage.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "IDP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A database of this run's own on the PostgreSQL server, dropped at the end."""
    with throwaway_database(POSTGRES_ADMIN_URL, "campus_id_test") as url:
        yield url


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database on each backend the provider supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db')}/idp.sqlite3"
    url: str = request.getfixturevalue("postgres_server")
    _reset_postgres(url)
    return url


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated empty database of each backend (a module may define its own)."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()
