"""``idp keys``: rotate, list and retire signing keys (docs/keys.md).

Every command first makes the keys a first start would make (on a fresh database) and settles
the schedule (records activations, retires keys whose tokens have expired), so running
``idp keys retire`` from cron or a systemd timer keeps the database and the audit trail in step
with what the running servers already do by the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from sqlalchemy.orm import Session

from idp.cli.shared import current_engine, echo_columns, echo_json, fail, main, session_on, settings_of
from idp.oidc.key_rotation import (
    KeyRotationError,
    Settled,
    describe,
    retention,
    retire,
    rotate,
    settle,
)
from idp.oidc.keys import SUPPORTED_ALGS, ensure_keys
from idp.settings import Settings
from idp.storage.base import utcnow

ACTOR = "cli"


def _prepare(db: Session, settings: Settings, now: datetime) -> Settled:
    ensure_keys(db, settings.server.secret_key, now)
    return settle(db, now=now, retention=retention(settings), actor=ACTOR)


@main.group()
def keys() -> None:
    """Signing keys: rotation without downtime."""


@keys.command("rotate")
@click.option("--alg", type=click.Choice([*SUPPORTED_ALGS, "all"]), default="all", show_default=True,
              help="The algorithm whose key is replaced.")
@click.pass_context
def keys_rotate(ctx: click.Context, alg: str) -> None:
    """Add a new key: published in the JWKS at once, signing after [keys] activation_delay_s;
    the key it replaces stays published until the tokens it signed have expired."""
    settings = settings_of(ctx)
    engine = current_engine(settings)
    algs = list(SUPPORTED_ALGS) if alg == "all" else [alg]
    try:
        with session_on(engine) as db:
            now = utcnow()
            _prepare(db, settings, now)
            added = rotate(db, settings.server.secret_key, algs, now=now, actor=ACTOR,
                           delay=timedelta(seconds=settings.keys.activation_delay_s))
            db.commit()
            lines = [f"{row.alg:6} {row.kid}  published now, signs from {row.activates_at.isoformat()}"
                     for row in added]
    except KeyRotationError as exc:
        fail(f"Nothing rotated: {exc}", [])
    finally:
        engine.dispose()
    click.echo("\n".join(lines))


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key.")
@click.pass_context
def keys_list(ctx: click.Context, as_json: bool) -> None:
    """Every key with its state: pending (published, not signing yet), active (signs),
    previous (replaced, published until its tokens expire), retired."""
    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with session_on(engine) as db:
            now = utcnow()
            _prepare(db, settings, now)
            db.commit()
            rows = [{"kid": row.kid, "alg": row.alg, "state": plan.state.value,
                     "created_at": row.created_at.isoformat(),
                     "activates_at": row.activates_at.isoformat(),
                     "retire_after": plan.retire_after.isoformat() if plan.retire_after else None,
                     "retired_at": row.retired_at.isoformat() if row.retired_at else None}
                    for row, plan in describe(db, now=now, retention=retention(settings))]
    finally:
        engine.dispose()
    for item in rows:
        if as_json:
            echo_json(item)
            continue
        when = {"pending": f"signs from {item['activates_at']}",
                "active": f"signing since {item['activates_at']}",
                "previous": f"published until {item['retire_after']}",
                "retired": f"retired at {item['retired_at'] or item['retire_after']}"}[str(item["state"])]
        echo_columns([str(item["alg"]), str(item["kid"]), str(item["state"]), when], [6, 32, 9])


@keys.command("retire")
@click.option("--kid", default=None, metavar="KID",
              help="Retire this key now (a pending or replaced key, never the one that signs).")
@click.option("--force", is_flag=True,
              help="With --kid: retire a replaced key even though tokens it signed may still be "
                   "valid (a compromised key).")
@click.pass_context
def keys_retire(ctx: click.Context, kid: str | None, force: bool) -> None:
    """Retire the keys whose tokens have all expired (and record activations). Run it from
    cron or a systemd timer; servers also do it at start."""
    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with session_on(engine) as db:
            now = utcnow()
            settled = _prepare(db, settings, now)
            if kid is not None:
                retire(db, kid, now=now, retention=retention(settings), actor=ACTOR, force=force)
            db.commit()
    except KeyRotationError as exc:
        fail(f"Nothing retired: {exc}", [])
    finally:
        engine.dispose()
    retired = [*settled.retired, *([kid] if kid else [])]
    click.echo(f"activated: {', '.join(settled.activated) or 'none'}; "
               f"retired: {', '.join(retired) or 'none'}")
