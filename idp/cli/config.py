"""``idp check-config``: validate the configuration file and list every problem."""

from __future__ import annotations

import click

from idp.cli.shared import main, settings_of


@main.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the configuration and list every problem."""
    settings = settings_of(ctx)
    click.echo(f"Configuration is valid: issuer {settings.server.issuer}, "
               f"{len(settings.organizations)} organization(s), {len(settings.clients)} static client(s).")
