"""``idp clients release``: show and change which claims a relying party receives
(docs/claims.md). The consortium's default applies to everyone; ``--org`` narrows it for that
organization's people. Every change is audited (``client.release_changed``)."""

from __future__ import annotations

import click

from idp.admin.release import change_release, release_levels
from idp.cli.shared import clients, current_engine, echo_columns, echo_json, fail, session_on, settings_of
from idp.errors import ConfigError
from idp.identity.claim_names import RELEASABLE_CLAIMS, parse_claim_list
from idp.storage.clients import find_client

ACTOR = "cli"


@clients.group("release")
def release() -> None:
    """Attribute release: the claims a client may receive."""


@release.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print the policy as JSON.")
@click.pass_context
def release_show(ctx: click.Context, client_id: str, as_json: bool) -> None:
    """The consortium's default and each organization's narrowing for CLIENT_ID."""
    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with session_on(engine) as db:
            client = find_client(db, client_id)
            levels = release_levels(db, client, settings.organizations) if client else None
    finally:
        engine.dispose()
    if levels is None:
        fail(f"No client {client_id!r}.", [])
    if as_json:
        echo_json({"client_id": client_id, "policy": [
            {"organization": level.organization or None,
             "claims": list(level.claims) if level.claims is not None else None}
            for level in levels]})
        return
    for level in levels:
        who = f"organization {level.organization}" if level.organization else "consortium default"
        if level.claims is None:
            text = "every claim of the granted scopes" if not level.organization else "no narrowing"
        else:
            text = ", ".join(level.claims) or "nothing but sub"
        echo_columns([f"{who}:", text], [32])


@release.command("set")
@click.argument("client_id")
@click.option("--claims", "claims", required=True, metavar="NAME,NAME,...",
              help=f"The claims released ({', '.join(RELEASABLE_CLAIMS)}); sub always is, "
                   "email_verified goes with email; an empty list releases only sub.")
@click.option("--org", "organization", default="", metavar="ORG",
              help="Narrow for this organization's people only (never wider than the default).")
@click.pass_context
def release_set(ctx: click.Context, client_id: str, claims: str, organization: str) -> None:
    """Set the claims CLIENT_ID may receive."""
    _change(ctx, client_id, parse_claim_list(claims), organization)


@release.command("clear")
@click.argument("client_id")
@click.option("--org", "organization", default="", metavar="ORG",
              help="Remove this organization's narrowing instead of the consortium default.")
@click.pass_context
def release_clear(ctx: click.Context, client_id: str, organization: str) -> None:
    """Remove a level: the default back to every claim of the granted scopes, or an
    organization's narrowing."""
    _change(ctx, client_id, None, organization)


def _change(ctx: click.Context, client_id: str, claims: list[str] | None, organization: str) -> None:
    settings = settings_of(ctx)
    engine = current_engine(settings)
    problems: list[str] = []
    try:
        with session_on(engine) as db:
            client = find_client(db, client_id)
            if client is None:
                problems.append(f"client: no client {client_id!r}")
            else:
                try:
                    changed = change_release(db, client, claims, organization=organization,
                                             organizations=settings.organizations, actor=ACTOR)
                    db.commit()
                except ConfigError as exc:
                    problems.extend(exc.problems)
    finally:
        engine.dispose()
    if problems:
        fail("The release policy was not changed:", problems)
    level = f"organization {organization}" if organization else "consortium default"
    click.echo(f"{client_id}, {level}: " + ("changed." if changed else "unchanged (already so)."))
