"""What every ``idp`` command needs: the root group, the settings with the one error format, an
engine on a migrated database and its sessions, JSON and column output, and the exit codes.

Command modules import this module and nothing of each other; each registers its commands on
``main`` (or on ``clients``, the one group that several modules extend) when ``idp.cli`` imports it.
Exit codes: 0 done, 1 any other failure, 2 invalid input or configuration (or a database that
needs ``idp db upgrade``), 3 not found, 4 conflict with the current state.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from idp import request_id as request_ids
from idp.errors import BadRequest, ConfigError, Conflict, DatabaseNotReady, IdpError, NotFound
from idp.settings import Settings
from idp.settings.load import load_settings


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    INVALID = 2
    NOT_FOUND = 3
    CONFLICT = 4


# For a command whose argument is a sub: a sub is base64url and may begin with "-", so an
# argument that looks like an unknown option is taken as the argument (these commands have no
# short options to confuse it with). ``--`` before it works as well.
SUB_ARGUMENT = {"ignore_unknown_options": True}


# What an error of the services (the helpdesk API's own) exits with; any other one exits 1.
EXIT_CODES: dict[type[IdpError], Exit] = {NotFound: Exit.NOT_FOUND, Conflict: Exit.CONFLICT,
                                          BadRequest: Exit.INVALID}


@click.group()
@click.option("--config", "config_path", envvar="IDP_CONFIG", metavar="FILE",
              help="Configuration file (or IDP_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Campus ID: single sign-on for a consortium of universities."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    # The command's id: its log lines and the audit events it writes carry it (idp.request_id).
    ctx.with_resource(request_ids.bound())


@main.group()
def clients() -> None:
    """Relying parties."""


def fail(title: str, problems: Sequence[str]) -> NoReturn:
    """The one error format: a title and one indented line per problem on stderr; exit 2."""
    click.echo(title, err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(Exit.INVALID)


def refuse(exc: IdpError) -> NoReturn:
    """A service's refusal: its public message on stderr and the exit code of its kind."""
    click.echo(f"Error: {exc.public}", err=True)
    sys.exit(next((code for kind, code in EXIT_CODES.items() if isinstance(exc, kind)), Exit.FAILED))


def settings_of(ctx: click.Context) -> Settings:
    """The settings of ``--config`` (or ``IDP_CONFIG``); every problem listed, exit 2."""
    path = ctx.obj.get("config_path")
    if not path:
        fail("No configuration file: give --config FILE or set IDP_CONFIG.", [])
    try:
        return load_settings(path)
    except ConfigError as exc:
        fail(f"The configuration in {path} has {len(exc.problems)} problem(s):", exc.problems)


def current_engine(settings: Settings) -> Engine:
    """An engine on a database at the latest migration; otherwise exit 2 saying what to run."""
    from idp.storage.base import make_engine
    from idp.storage.migrate import ensure_current

    engine = make_engine(settings.database.url)
    try:
        ensure_current(engine)
    except DatabaseNotReady as exc:
        engine.dispose()
        fail(exc.detail, [])
    return engine


def session_on(engine: Engine) -> Session:
    """A session on ``engine``; the command commits (or not) before it ends."""
    from idp.storage.base import make_session_factory

    return make_session_factory(engine)()


def echo_json(body: Any, *, sort_keys: bool = False, ensure_ascii: bool = True) -> None:
    """``body`` as one line of JSON on stdout."""
    click.echo(json.dumps(body, sort_keys=sort_keys, ensure_ascii=ensure_ascii))


def echo_columns(cells: Sequence[str], widths: Sequence[int]) -> None:
    """One row of a table: each cell padded to its width, the last one as it is."""
    padded = [f"{cell:{width}}" for cell, width in zip(cells, widths, strict=False)]
    click.echo(" ".join([*padded, *cells[len(widths):]]))
