"""``idp card``: a person's campus card (``show``) and re-issuing a lost one (``reissue``:
the old number revoked, a new one issued, both audited, every library told).

PERSON is named as in ``idp access explain``: user@scope, a sub, a campus id or a card number
(an active or a revoked one: ``show`` says which). Exit codes: 0 done; 2 an unknown person, a
mistyped card number (the check digit says so), an empty reason (or invalid configuration);
4 nothing to re-issue (no active card and no library access).
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from idp.settings.model import Settings
    from idp.storage.identities import Identity


@main.group("card")
def card_group() -> None:
    """Campus cards: show a person's cards, re-issue a lost one."""


def _person(db: Session, settings: Settings, person: str) -> Identity:
    """The identity PERSON names; exit 2 for nobody or a mistyped card number."""
    from idp.provisioning.lookup import NotACardNumber, find_person

    try:
        identity = find_person(db, settings, person)
    except NotACardNumber as exc:
        refuse(exc)
    if identity is None:
        click.echo(f"Error: no person is known as {person!r}: give user@scope (an account "
                   "that has logged in or was synced), a sub, a campus id or a card number.",
                   err=True)
        sys.exit(Exit.INVALID)
    return identity


@card_group.command("show", context_settings=SUB_ARGUMENT)
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def show(ctx: click.Context, person: str, as_json: bool) -> None:
    """PERSON's active card number and every card they were ever issued; named by a card
    number, also whether that card is active or revoked."""
    from idp.provisioning.card_reissue import card_json, cards_json
    from idp.provisioning.lookup import named_card
    from idp.storage.base import make_session_factory

    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with make_session_factory(engine)() as db:
            identity = _person(db, settings, person)
            named = named_card(db, person)
            body = cards_json(db, identity)
            body["named_card"] = card_json(named) if named is not None else None
    finally:
        engine.dispose()
    if as_json:
        echo_json(body, ensure_ascii=False)
    else:
        _print(body)


def _print(body: dict[str, Any]) -> None:
    named = body["named_card"]
    if named is not None:
        click.echo(f"card {named['number']} is {named['state']}"
                   + (f" since {named['revoked_at'][:10]}" if named["revoked_at"] else ""))
    click.echo(f"campus_id {body['campus_id']}  sub {body['sub']}")
    if not body["cards"]:
        click.echo("no card")
    for card in body["cards"]:
        echo_columns([card["number"], card["state"], card["issued_at"][:10],
                      (card["revoked_at"] or "")[:10], card["revoke_reason"] or ""],
                     [12, 7, 10, 10])


@card_group.command("reissue", context_settings=SUB_ARGUMENT)
@click.argument("person")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def reissue(ctx: click.Context, person: str, reason: str, as_json: bool) -> None:
    """Revoke PERSON's card and issue a new number; each library they hold is told both."""
    from idp.errors import IdpError
    from idp.provisioning.card_reissue import reissue as reissue_card
    from idp.storage.base import make_session_factory, utcnow

    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with make_session_factory(engine)() as db:
            identity = _person(db, settings, person)
            try:
                done = reissue_card(db, settings, identity, reason=reason,
                                    actor=f"cli:{getpass.getuser()}", now=utcnow())
            except IdpError as exc:
                db.rollback()
                refuse(exc)
            body = done.as_json()
            db.commit()
    finally:
        engine.dispose()
    if as_json:
        echo_json(body)
    else:
        previous = body["previous_card_number"] or "none"
        click.echo(f"card {body['card_number']} issued, {previous} revoked, "
                   f"{len(body['jobs'])} library delivery job(s) queued")
