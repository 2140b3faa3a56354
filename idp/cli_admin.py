"""``idp clients rotate-secret``: a new client secret, the previous one still accepted during
an overlap window (default ``[admin] secret_rotation_overlap_s``), the same rotation as the
admin UI's (``idp.admin.clients.rotate_secret``)."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from idp.cli import _current_engine, _fail, clients, settings_of
from idp.errors import Conflict
from idp.oidc.registration import parse_duration
from idp.storage.base import make_session_factory


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option("--overlap", default=None, metavar="DURATION",
              help="How long the previous secret keeps working, e.g. 7d, 12h, or 0 to stop it "
                   "at once. Default: [admin] secret_rotation_overlap_s.")
@click.option("--json", "as_json", is_flag=True, help="Print the new secret as JSON.")
@click.pass_context
def clients_rotate_secret(ctx: click.Context, client_id: str, overlap: str | None,
                          as_json: bool) -> None:
    """Give CLIENT_ID a new secret (shown once); the old one works until the overlap ends."""
    from idp.admin.clients import (
        Actor,
        StaticClientChange,
        find_managed_client,
        record_refusal,
        rotate_secret,
    )

    settings = settings_of(ctx)
    window = timedelta(seconds=settings.admin.secret_rotation_overlap_s)
    if overlap is not None:
        try:
            window = timedelta(0) if overlap.strip() == "0" else parse_duration(overlap)
        except ValueError as exc:
            _fail("The secret was not rotated:", [f"overlap: {exc}"])
    engine = _current_engine(settings)
    try:
        with make_session_factory(engine)() as db:
            client = find_managed_client(db, client_id)
            if client is None:
                _fail("The secret was not rotated:", [f"client_id: no client {client_id!r}"])
                return
            try:
                rotated = rotate_secret(db, client, window, "cli")
            except StaticClientChange as refused:
                db.rollback()
                record_refusal(db, client, refused, Actor("cli"))
                db.commit()
                _fail("The secret was not rotated:", [f"client_id: {refused.public}"])
                return
            except Conflict as exc:
                _fail("The secret was not rotated:", [f"client_id: {exc.public}"])
                return
            db.commit()
    finally:
        engine.dispose()
    expires = rotated.previous_expires_at.isoformat() if rotated.previous_expires_at else None
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "client_secret": rotated.secret,
                               "previous_secret_expires_at": expires}))
        return
    click.echo(f"client_id:     {client_id}")
    click.echo(f"client_secret: {rotated.secret}   (shown once; stored hashed)")
    click.echo(f"previous secret works until: {expires or 'no longer (stopped now)'}")
