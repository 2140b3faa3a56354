"""``idp serve``: the provider under granian or gunicorn (``[server] engine``, ``--engine``;
workers from the configuration), or Werkzeug's development server in dev mode. Before
serving, every access grant is recomputed when the resources or policies changed since they
were last applied (``idp.provisioning.applied``; what the safety brake stops is logged as an
error, and serving goes on)."""

from __future__ import annotations

import click

from idp.cli.shared import current_engine, fail, main, settings_of
from idp.errors import DatabaseNotReady
from idp.metrics.processes import prepare_processes
from idp.settings import Settings
from idp.settings.model import ServerEngine


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Werkzeug's development server (dev mode only).")
@click.option("--engine", type=click.Choice([e.value for e in ServerEngine]), default=None,
              help="The HTTP server, instead of [server] engine (granian by default).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, dev: bool, engine: str | None) -> None:
    """Serve the provider (granian or gunicorn, workers from the config)."""
    from idp.logs import configure as configure_logging
    settings = settings_of(ctx)
    prepare_processes(settings)  # before prometheus_client is imported: see its module
    from idp.web.serve import serve as run

    if dev and not settings.server.dev_mode:
        fail("--dev needs server.dev_mode = true in the configuration.", [])
    configure_logging(settings.logging)  # [logging]: JSON lines with request ids, or text
    _apply_access(settings)
    try:
        run(settings, host, port, dev=dev, engine=engine)
    except DatabaseNotReady as exc:
        fail(exc.detail, [])


def _apply_access(settings: Settings) -> None:
    from idp.provisioning.applied import recompute_if_changed
    from idp.storage.base import make_session_factory

    engine = current_engine(settings)
    try:
        recompute_if_changed(make_session_factory(engine), settings)
    finally:
        engine.dispose()
