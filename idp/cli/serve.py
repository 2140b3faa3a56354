"""``idp serve``: the provider under gunicorn (workers from the configuration), or Werkzeug's
development server in dev mode."""

from __future__ import annotations

import click

from idp.cli.shared import fail, main, settings_of
from idp.errors import DatabaseNotReady


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Werkzeug's development server (dev mode only).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, dev: bool) -> None:
    """Serve the provider (gunicorn, workers from the config)."""
    from idp.web.serve import serve as run

    settings = settings_of(ctx)
    if dev and not settings.server.dev_mode:
        fail("--dev needs server.dev_mode = true in the configuration.", [])
    try:
        run(settings, host, port, dev=dev)
    except DatabaseNotReady as exc:
        fail(exc.detail, [])
