"""``idp clients list`` and ``idp clients show``: which relying parties exist and how one is
set up, in the client management API's shape (``idp.admin.clients.describe``), never a secret
or its digest."""

from __future__ import annotations

import sys
from typing import Any

import click

from idp.cli.shared import (
    Exit,
    clients,
    current_engine,
    echo_columns,
    echo_json,
    fail,
    session_on,
    settings_of,
)
from idp.storage.clients import Client


@clients.command("list")
@click.option("--org", default=None, metavar="ORG",
              help="Only the clients of this organization (without it: every client, "
                   "consortium ones too).")
@click.option("--json", "as_json", is_flag=True, help='Print {"items": [...]} as JSON.')
@click.pass_context
def clients_list(ctx: click.Context, org: str | None, as_json: bool) -> None:
    """The relying parties not deleted, static (configuration file) and registered ones."""
    from idp.admin.clients import clients_of, describe

    settings = settings_of(ctx)
    if org is not None and org not in settings.organizations:
        fail("The clients were not listed:", [f"org: no organization {org!r} in the configuration"])
    engine = current_engine(settings)
    try:
        with session_on(engine) as db:
            items = [describe(c) for c in clients_of(db, None if org is None else [org])]
    finally:
        engine.dispose()
    if as_json:
        echo_json({"items": items})
        return
    if not items:
        click.echo("no clients")
        return
    widths = [max(len("CLIENT_ID"), *(len(i["client_id"]) for i in items)),
              max(len("ORGANIZATION"), *(len(i["organization"] or "-") for i in items)),
              max(len("SOURCE"), *(len(i["source"]) for i in items)), len("disabled")]
    echo_columns(["CLIENT_ID", "ORGANIZATION", "SOURCE", "STATE", "NAME"], widths)
    for i in items:
        echo_columns([i["client_id"], i["organization"] or "-", i["source"],
                      "disabled" if i["disabled"] else "enabled", i["name"]], widths)


@clients.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print the client as JSON.")
@click.pass_context
def clients_show(ctx: click.Context, client_id: str, as_json: bool) -> None:
    """How CLIENT_ID is set up: everything but its secret. Exit 3 when there is no such client."""
    from idp.admin.clients import describe, find_managed_client

    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with session_on(engine) as db:
            client = find_managed_client(db, client_id)
            if client is None:
                click.echo(f"Error: no client {client_id!r}", err=True)
                sys.exit(Exit.NOT_FOUND)
            shown = {**describe(client), **setup_of(client)}
    finally:
        engine.dispose()
    if as_json:
        echo_json(shown)
        return
    width = max(len(key) for key in shown) + 1
    for key, value in shown.items():
        click.echo(f"{key + ':':{width}} {_text(value)}")


def setup_of(client: Client) -> dict[str, Any]:
    """The rest of a client's settings, beyond ``describe``: public keys, but no secret, no
    secret digest and no registration access token digest."""
    expires = client.previous_secret_expires_at
    return {
        "public": client.public,
        "trusted": client.trusted,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "access_token_format": client.access_token_format,
        "access_token_audience": client.access_token_audience,
        "refresh_token_policy": client.refresh_token_policy,
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "roles": list(client.roles or []),
        "subject_type": client.subject_type,
        "sector_identifier": client.sector_identifier,
        "jwks_uri": client.jwks_uri,
        "jwks": client.jwks,
        "request_object_signing_alg": client.request_object_signing_alg,
        "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        "previous_secret_expires_at": expires.isoformat() if expires else None,
    }


def _text(value: Any) -> str:
    """A value as an operator reads it: lists joined by spaces, nothing as "-"."""
    if value is None or value == [] or value == "":
        return "-"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return f"{len(value.get('keys', []))} key(s)"
    return str(value)
