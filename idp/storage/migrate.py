"""Running Alembic migrations and checking that a database is at the latest one.

The server refuses to start on a database behind the migrations (``DatabaseNotReady``), with a
message that says what to run.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, exc, text
from sqlalchemy.orm import Session

from idp.errors import DatabaseNotReady

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"  # shipped inside the package
STARTUP_LOCK = 0x43_49_44_53  # an advisory lock key of its own ("CIDS")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@cache
def head_revision() -> str | None:
    """The newest migration this installation ships: read from the scripts once per process
    (they do not change while it runs)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def ensure_current(engine: Engine) -> None:
    """Raises ``DatabaseNotReady`` saying what is wrong in one line: the database cannot be
    reached (missing, renamed, refusing connections), or it is behind the migrations."""
    where_db = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise DatabaseNotReady(
            f"Cannot connect to the database ({where_db}): {first_line(error)}"
        ) from error
    head = head_revision()
    if current != head:
        where = "an empty database" if current is None else f"revision {current}"
        raise DatabaseNotReady(
            f"The database ({where_db}) is at {where}, "
            f"but this version of Campus ID needs revision {head}. "
            "Run `idp db upgrade` first."
        )


def hold_startup_lock(db: Session) -> None:
    """Let one instance at a time do the start-up work (signing keys, static clients): two
    started at once on a fresh database would both find nothing and both insert. On PostgreSQL
    a transaction-level advisory lock, released at commit; on SQLite the transaction's
    ``BEGIN IMMEDIATE`` serialises already."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})


def first_line(error: exc.DBAPIError) -> str:
    """The driver's own reason, without SQLAlchemy's wrapping and background link."""
    lines = [line.strip() for line in str(error.orig or error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
