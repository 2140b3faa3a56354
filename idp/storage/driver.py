"""Statements run on the database driver's own connection, past SQLAlchemy's execution, for the
few writes that come by the thousand (a refresh's spending and storage, ``idp.oidc.refresh_requests``):
SQLAlchemy's execution context, result and transaction objects around each statement cost a
third of such a request's CPU (bench/profile.py, ``refresh``).

PostgreSQL only. A statement is compiled once by the engine's dialect (its casts included) and
run with its parameters as the driver takes them: no type's bind or result processing, so only
statements whose columns need none there (text, integers, aware datetimes) belong here. Rows
come as plain tuples. The connection is the engine pool's (its checkout ping applies); the
statements are one transaction, committed by the caller and rolled back when the connection
goes back to the pool without a commit. The engine's statement events do not see them: a
counter or a test that must (bench/profile.py) adds itself to ``OBSERVERS``, told
("statement", its SQL) and ("commit", "").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from types import TracebackType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

OBSERVERS: list[Callable[[str, str], None]] = []


class DriverConnection:
    """One pooled driver connection in one transaction, with SQLAlchemy statements."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("statements past SQLAlchemy are for PostgreSQL only")
        self.dialect: Dialect = engine.dialect
        self._raw = engine.raw_connection()

    def execute(self, statement: Executable, parameters: dict[str, Any]) -> DriverRows:
        sql = _sql(statement, self.dialect)
        for observer in OBSERVERS:
            observer("statement", sql)
        cursor = self._raw.cursor()
        cursor.execute(sql, parameters)
        return DriverRows(cursor)

    def commit(self) -> None:
        for observer in OBSERVERS:
            observer("commit", "")
        self._raw.commit()

    def close(self) -> None:
        self._raw.close()  # back to the pool, rolled back unless committed

    def __enter__(self) -> DriverConnection:
        return self

    def __exit__(self, _type: type[BaseException] | None, _value: BaseException | None,
                 _traceback: TracebackType | None) -> None:
        self.close()


class DriverRows:
    """A statement's rows, as far as a caller of a Core result reads them here."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchone(self) -> Sequence[Any] | None:
        """The next row of a statement that returns rows (RETURNING), None past the last."""
        row: Sequence[Any] | None = self._cursor.fetchone()
        return row

    def fetchall(self) -> list[Sequence[Any]]:
        """The rows left of a statement that returns rows."""
        rows: list[Sequence[Any]] = self._cursor.fetchall()
        return rows


@cache
def _sql(statement: Executable, dialect: Dialect) -> str:
    """Compiled once per statement (each is built once, ``functools.cache``)."""
    return str(statement.compile(dialect=dialect))  # type: ignore[attr-defined]
