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
    from idp.oidc.key_rotation import retention
    from idp.oidc.keys import load_keyring
    from idp.oidc.logout import Signer, deliver, end_expired_sessions

    settings = settings_of(ctx)
    engine = current_engine(settings)
    with session_on(engine) as session:
        keyring = load_keyring(session, settings.server.secret_key, retention=retention(settings))
        signer = Signer(settings.server.issuer, keyring)
        ended = end_expired_sessions(session, signer, secret_key=settings.server.secret_key)
        session.commit()
        delivered, failed = deliver(session, signer, limits=settings.outbound)
    engine.dispose()
    click.echo(f"expired sessions ended: {ended}; delivered: {delivered}; failed: {failed}")
