"""``idp access``: why a person has what they have (``explain``), and every grant recomputed
after the policies changed (``recompute``, behind the safety brake per organization).

Exit codes: 0 done; 2 an unknown person, a mistyped card number (or invalid configuration);
3 the safety brake stopped the removals of at least one organization (the result is printed
either way).
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click

from idp.cli.shared import (
    SUB_ARGUMENT,
    Exit,
    current_engine,
    echo_columns,
    echo_json,
    main,
    refuse,
    settings_of,
)

# As ``idp directory sync``: the object is printed, and the exit code says the brake held.
BRAKE_STOPPED = 3


@main.group("access")
def access_group() -> None:
    """Access to resources: explain a person's grants, recompute every grant."""


@access_group.command("explain", context_settings=SUB_ARGUMENT)
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def explain(ctx: click.Context, person: str, as_json: bool) -> None:
    """Each grant of PERSON (user@scope, a sub, a campus id or a card number) with its state
    and why."""
    from idp.provisioning.explain import explain as explain_grants
    from idp.provisioning.lookup import NotACardNumber, find_person
    from idp.storage.base import make_session_factory

    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with make_session_factory(engine)() as db:
            try:
                identity = find_person(db, settings, person)
            except NotACardNumber as exc:
                refuse(exc)
            if identity is None:
                click.echo(f"Error: no person is known as {person!r}: give user@scope (an "
                           "account that has logged in or was synced), a sub, a campus id or "
                           "a card number.", err=True)
                sys.exit(Exit.INVALID)
            body = explain_grants(db, settings, identity)
    finally:
        engine.dispose()
    if as_json:
        echo_json(body, ensure_ascii=False)
    else:
        _print(body)


def _print(body: dict[str, Any]) -> None:
    person = body["person"]
    click.echo(f"campus_id {person['campus_id']}  sub {person['sub']}")
    if not body["grants"]:
        click.echo("no grants")
    for grant in body["grants"]:
        because = ", ".join(f"{r['policy']} ({r['account']})" for r in grant["because"])
        echo_columns([grant["resource"], grant["state"], grant["since"][:10],
                      (grant["until"] or "open")[:10], because], [16, 7, 10, 10])


@access_group.command("recompute")
@click.option("--accept-removals", is_flag=True,
              help="End access even where the safety brake would stop it.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def recompute(ctx: click.Context, accept_removals: bool, as_json: bool) -> None:
    """Recompute every grant from the policies (after changing them); exit 3 when the safety
    brake held back an organization's removals."""
    from idp.provisioning.applied import recompute_and_record
    from idp.storage.base import make_session_factory

    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        result = recompute_and_record(make_session_factory(engine), settings,
                                      accept_removals=accept_removals,
                                      actor=f"cli:{getpass.getuser()}", reason="idp access recompute")
    finally:
        engine.dispose()
    body = result.as_json()
    if as_json:
        echo_json(body, ensure_ascii=False)
    else:
        click.echo(" ".join(f"{key}={body[key]}" for key in
                            ("identities", "granted", "grace", "ended", "jobs")))
        for organization, why in sorted(result.stopped.items()):
            click.echo(f"stopped {organization}: {why}")
    if result.stopped:
        sys.exit(BRAKE_STOPPED)
