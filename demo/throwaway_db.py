"""A PostgreSQL database made for one run and dropped after it: the tests' database, the
benchmarks' and the several-instances demo's."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def throwaway_database(admin_url: str, prefix: str, *, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database on the server ``admin_url`` reaches (as a user who may create
    databases), dropped at the end with every connection to it; a copy of the database
    ``template`` when given (which nobody may be connected to meanwhile)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :n"), {"n": name})
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()
