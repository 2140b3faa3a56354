"""``idp db``: apply the Alembic migrations and show the database's revision. These commands
work on a database that is not current yet (every other command refuses one)."""

from __future__ import annotations

import click

from idp.cli.shared import main, settings_of


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the migrations (creates the database on first run)."""
    from idp.storage.base import make_engine
    from idp.storage.migrate import current_revision, upgrade

    settings = settings_of(ctx)
    engine = make_engine(settings.database.url)
    upgrade(engine, revision)
    click.echo(f"Database is at revision {current_revision(engine)}.")
    engine.dispose()


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the database's migration revision."""
    from idp.storage.base import make_engine
    from idp.storage.migrate import current_revision, head_revision

    settings = settings_of(ctx)
    engine = make_engine(settings.database.url)
    click.echo(f"current: {current_revision(engine)}  head: {head_revision()}")
    engine.dispose()
