"""The declarative base, portable column types, and the engine/session factory.

Repositories never commit: the caller (one request or one command) owns the transaction.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs; creates the folder of a SQLite file."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _create_private(Path(path))
        else:
            kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    else:
        _ping_when_idle(engine)
    return engine


def make_read_engine(engine: Engine) -> Engine | None:
    """An engine of its own for statements that only read, in autocommit (no BEGIN before nor
    ROLLBACK after them), over the same database as ``engine``; None on SQLite. Its own pool:
    connections set to autocommit once, not switched to it and back at every checkout as an
    ``execution_options`` engine over the shared pool does (about 200 Python calls of each
    UserInfo request). Disposed with ``engine``: closed by the process that made it, only
    dropped by a forked worker (the parent's connections are not the worker's to close)."""
    if engine.dialect.name == "sqlite":
        return None
    reads = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    _ping_when_idle(reads)
    made_in = os.getpid()

    @event.listens_for(engine, "engine_disposed")
    def _disposed(_engine: Engine) -> None:
        reads.dispose(close=os.getpid() == made_in)

    return reads


def _create_private(path: Path) -> None:
    """Create a missing SQLite file readable by its owner only (0600) before SQLite opens it:
    SQLite would make it, and its journal and WAL files after it, readable by everyone. An
    existing file keeps its mode: the operator chose it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


# A connection idle longer than this is pinged before use; a busy one is not (its last use
# just proved it alive), which saves a round-trip per request under load.
PING_AFTER_IDLE_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, but only for connections that sat idle: a server restarted while the
    pool was quiet costs no request. One restarted under load fails the requests in flight,
    and SQLAlchemy then replaces every pooled connection (it invalidates the pool)."""
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(str(error)) from error  # the pool opens a new one


def _sqlite_begin_immediate(connection: Any) -> None:
    """SQLite transactions take the write lock at BEGIN: two first logins of one account
    then wait for each other instead of failing with "database is locked" half-way."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, future=True)
