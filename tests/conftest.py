"""Shared fixtures: databases (SQLite and a throwaway PostgreSQL database per run).

``database_url`` is an empty database of each backend; ``migrated_database_url`` names the same
database at the latest migration, migrated once per test process rather than once per test
(running every migration cost seconds a test on a busy machine): on SQLite a copy of a
migrated file, on PostgreSQL one migrated database emptied again for each test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from demo.throwaway_db import throwaway_database
from idp.storage.base import make_engine, make_session_factory
from idp.storage.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "IDP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_migrated: set[str] = set()  # URLs that database_url made from a template


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the latest migration, made once per test process."""
    path = tmp_path_factory.mktemp("template") / "idp.sqlite3"
    _upgrade(f"sqlite:///{path}")  # its last connection closed, the WAL is in the file
    return path


# What a test could change in the schema of the migrated PostgreSQL database: its tables,
# columns, defaults, indexes and constraints.
SCHEMA_FINGERPRINT = """
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT c.relname || ':' || c.relkind::text || ':' || coalesce(pg_get_indexdef(i.indexrelid), '')
         || ':' || coalesce((
           SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' '
                             || a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                             ';' ORDER BY a.attnum)
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS x
  FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid
  WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
  WHERE connamespace = 'public'::regnamespace) s
"""


@dataclass(frozen=True)
class MigratedPostgres:
    """A database of this test process at the latest migration, emptied for each test that
    asks for one: every table but ``alembic_version`` truncated, its sequences restarted (the
    migrations insert no rows). Faster than copying a template: ``DROP DATABASE`` waits for
    a checkpoint."""

    url: str
    tables: tuple[str, ...]
    fingerprint: str

    def empty(self) -> None:
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
                if conn.execute(text(SCHEMA_FINGERPRINT)).scalar() == self.fingerprint:
                    conn.execute(text(f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY"))
                    return
        finally:
            engine.dispose()
        _reset_postgres(self.url)  # a test changed the schema: migrate again, the slow way
        _upgrade(self.url)


@pytest.fixture(scope="session")
def postgres_migrated(postgres_server: str) -> Iterator[MigratedPostgres]:
    with throwaway_database(postgres_server, "campus_id_migrated") as url:
        _upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT quote_ident(tablename) FROM pg_tables "
                                       "WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
                                       "ORDER BY tablename")).scalars().all()
            fingerprint = conn.execute(text(SCHEMA_FINGERPRINT)).scalar_one()
        engine.dispose()
        yield MigratedPostgres(url, tuple(tables), fingerprint)


def _upgrade(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def _sqlite_copy(template: Path, path: Path) -> None:
    """The template's bytes in a new file readable by its owner only, as the provider makes it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    shutil.copyfile(template, path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database on each backend the provider supports; already migrated when the
    test also uses ``migrated_database_url`` (the same database)."""
    migrated = "migrated_database_url" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "idp.sqlite3"
        url = f"sqlite:///{path}"
        if migrated:
            _sqlite_copy(request.getfixturevalue("sqlite_template"), path)
            _migrated.add(url)
        yield url
        _migrated.discard(url)
        return
    server: str = request.getfixturevalue("postgres_server")
    if not migrated:
        _reset_postgres(server)
        yield server
        return
    database: MigratedPostgres = request.getfixturevalue("postgres_migrated")
    database.empty()
    _migrated.add(database.url)
    yield database.url
    _migrated.discard(database.url)


@pytest.fixture
def migrated_database_url(database_url: str) -> str:
    """``database_url`` at the latest migration (migrated here only when this fixture was
    asked for too late, by ``request.getfixturevalue``, for ``database_url`` to know)."""
    if database_url not in _migrated:
        _upgrade(database_url)
    return database_url


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated empty database of each backend (a module may define its own)."""
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The test files that start servers for the whole module (a module-scoped fixture), and
    the interop files, run first, each file's tests in their order. `make test` hands each
    file whole to one process (`--dist loadfile`: those servers start once) in this order, so
    the long files start early and the many short ones fill the end."""
    shared = {_file_of(item) for item in items if _starts_servers_for_the_module(item)}
    items.sort(key=lambda item: _file_of(item) not in shared)  # stable: files stay whole


def _file_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _starts_servers_for_the_module(item: pytest.Item) -> bool:
    if _file_of(item).startswith("tests/interop/"):
        return True
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(
        definition.scope == "module"
        for definitions in info.name2fixturedefs.values() for definition in definitions)
