"""A statement run in an ORM session's transaction, on PostgreSQL past SQLAlchemy's execution:
for the login's few statements (a SELECT, or a write with RETURNING), where the execution
context and result objects SQLAlchemy builds around each cost more than the driver's own
work (bench/profile.py, ``login``).

Like ``idp.storage.driver``, but on the session's connection (one transaction with its ORM
writes), and converting as SQLAlchemy does: each parameter through its bind's type and each
column of the rows through its type (a JSON value, an aware UTC datetime), so the rows and
the stored values are those of ``Connection.execute``. Compiled once per statement and
dialect (each statement is built once). SQLite takes ``Connection.execute``. The engine's
statement events do not see the PostgreSQL statements: ``idp.storage.driver.OBSERVERS`` are
told of each, as that module tells them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert, UpdateBase

from idp.storage import driver

Statement = UpdateBase | Select[*tuple[Any, ...]]  # a SELECT, or a write with RETURNING
Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    fixed: tuple[tuple[str, Any], ...]  # parameters the statement sets itself (a LIMIT)
    binds: tuple[tuple[str, Processor], ...]  # parameters whose type converts them
    columns: tuple[tuple[int, Processor], ...]  # result columns whose type converts them


def rows(connection: Connection, statement: Statement,
         parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows ``statement`` returns (its columns, or its RETURNING columns, in order),
    converted."""
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return [tuple(row) for row in connection.execute(statement, parameters)]
    # An INSERT names its columns by the parameters given, as ``Connection.execute`` does.
    keys = tuple(parameters) if isinstance(statement, Insert) else ()
    compiled = _compile(statement, dialect, keys)
    values = dict(compiled.fixed)
    values.update(parameters)
    for name, process in compiled.binds:
        values[name] = process(values[name])
    for observer in driver.OBSERVERS:
        observer("statement", compiled.sql)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(compiled.sql, values)
    found = cursor.fetchall()
    if not compiled.columns:
        return [tuple(row) for row in found]
    converted = []
    for row in found:
        row = list(row)
        for index, process in compiled.columns:
            row[index] = process(row[index])
        converted.append(tuple(row))
    return converted


@cache
def _compile(statement: Statement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    """The SQL for the driver and the conversions SQLAlchemy would apply."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
    fixed = tuple((name, bind.effective_value) for name, bind in compiled.binds.items()
                  if not bind.required)
    binds = []
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((name, process))
    columns = []
    for index, column in enumerate(_returned(statement)):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            columns.append((index, process))
    return _Compiled(str(compiled), fixed, tuple(binds), tuple(columns))


def _returned(statement: Statement) -> Sequence[Any]:
    if isinstance(statement, Select):
        return list(statement.selected_columns)
    return list(statement.exported_columns)
