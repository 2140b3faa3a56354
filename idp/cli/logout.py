"""``idp logout deliver``: back-channel logout tokens that are due (OpenID Connect Back-Channel
Logout 1.0), for cron or a systemd timer."""

from __future__ import annotations

import click

from idp.cli.shared import current_engine, main, session_on, settings_of


@main.group()
def logout() -> None:
    """Back-channel logout."""


@logout.command("deliver")
@click.pass_context
def logout_deliver(ctx: click.Context) -> None:
    """Deliver the logout tokens that are due: retries of failed deliveries, and tokens for
    sessions that expired since the last run. Run it every minute or so (cron, systemd timer)."""
    from idp.oidc.due_logouts import deliver_due

    settings = settings_of(ctx)
    engine = current_engine(settings)
    with session_on(engine) as session:
        ended, delivered, failed = deliver_due(session, settings)
    engine.dispose()
    click.echo(f"expired sessions ended: {ended}; delivered: {delivered}; failed: {failed}")
