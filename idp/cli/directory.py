"""``idp directory sync``: read each organization's directory and bring its accounts in step
(who joined, who changed, who was disabled or left), behind the safety brake
(``idp.provisioning.sync``). ``--json`` prints the result object of ``--org``, or an array of
every organization's. Exit 0, or 3 when the brake stopped an organization's sync (the
result is printed either way); an unknown organization is invalid input (2)."""

from __future__ import annotations

import sys

import click

from idp.cli.shared import Exit, current_engine, echo_json, fail, main, settings_of

STOPPED = 3  # the exit code for a sync the brake stopped


@main.group()
def directory() -> None:
    """Organization directories."""


@directory.command("sync")
@click.option("--org", "org_id", metavar="ORG", help="Only this organization (default: every one).")
@click.option("--full", is_flag=True, help="A full listing (finds accounts that are gone).")
@click.option("--accept-removals", is_flag=True,
              help="End access even beyond the organization's removal limits, or when the "
                   "directory lists no one.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def directory_sync(ctx: click.Context, org_id: str | None, full: bool, accept_removals: bool,
                   as_json: bool) -> None:
    """Sync accounts from the directories: incremental from the last mark unless --full."""
    from idp.directory.base import ListableDirectory
    from idp.directory.registry import build_directories
    from idp.provisioning.sync import sync_organization
    from idp.storage.base import make_session_factory

    settings = settings_of(ctx)
    if org_id is not None and org_id not in settings.organizations:
        fail(f"No organization {org_id!r} in the configuration.",
             [f"known: {', '.join(sorted(settings.organizations))}"])
    engine = current_engine(settings)
    directories = build_directories(settings)
    results = []
    try:
        sessions = make_session_factory(engine)
        for org, found in directories.items():
            if org_id is not None and org != org_id:
                continue
            if not isinstance(found, ListableDirectory):
                fail(f"The directory of {org} cannot list its accounts.", [])
            results.append(sync_organization(sessions, settings, found, full=full,
                                             accept_removals=accept_removals))
    finally:
        for found in directories.values():
            close = getattr(found, "close", None)
            if callable(close):
                close()
        engine.dispose()
    if as_json:
        bodies = [r.as_json() for r in results]
        echo_json(bodies[0] if org_id is not None else bodies, ensure_ascii=False)
    else:
        for r in results:
            click.echo(f"{r.organization}: seen {r.seen}, new {r.new}, changed {r.changed}, "
                       f"disabled {r.disabled}, gone {r.gone}, grants ended {r.grants_ended}"
                       + (f"; STOPPED: {r.stopped}" if r.stopped else ""))
    sys.exit(STOPPED if any(r.stopped for r in results) else Exit.OK)
