"""``idp registration-tokens``: initial access tokens for dynamic client registration
(RFC 7591 3), one organization each; the token is shown once and stored hashed."""

from __future__ import annotations

import click

from idp.cli.shared import current_engine, echo_json, fail, main, session_on, settings_of
from idp.errors import ConfigError


@main.group("registration-tokens")
def registration_tokens() -> None:
    """Initial access tokens for dynamic client registration (RFC 7591)."""


@registration_tokens.command("create")
@click.option("--org", "organization", required=True, metavar="ORG",
              help="The organization whose clients the token may register.")
@click.option("--expires-in", default="7d", show_default=True, metavar="DURATION",
              help="How long the token lasts: 30m, 12h, 7d, 2w (at most 366 days).")
@click.option("--max-uses", type=int, default=None, metavar="N",
              help="How many clients it may register; no limit until it expires when not given.")
@click.option("--json", "as_json", is_flag=True, help="Print the token and its limits as JSON.")
@click.pass_context
def registration_tokens_create(ctx: click.Context, organization: str, expires_in: str,
                               max_uses: int | None, as_json: bool) -> None:
    """Create an initial access token for one organization; the token is shown once."""
    from idp.oidc.registration import issue_initial_access_token, parse_duration

    settings = settings_of(ctx)
    try:
        lifetime = parse_duration(expires_in)
    except ValueError as exc:
        fail("The token was not created:", [f"expires_in: {exc}"])
    engine = current_engine(settings)
    try:
        with session_on(engine) as session:
            issued = issue_initial_access_token(session, settings, organization,
                                                expires_in=lifetime, max_uses=max_uses,
                                                actor="cli")
            session.commit()
    except ConfigError as exc:
        fail("The token was not created:", exc.problems)
    finally:
        engine.dispose()
    token = issued.token
    if as_json:
        echo_json({"token": issued.value, "organization": token.organization,
                   "expires_at": token.expires_at.isoformat(), "max_uses": token.max_uses})
    else:
        click.echo(f"initial access token: {issued.value}   (shown once; stored hashed)")
        click.echo(f"organization:         {token.organization}")
        click.echo(f"expires at:           {token.expires_at.isoformat()}")
        click.echo(f"uses:                 {token.max_uses or 'unlimited until it expires'}")
