"""``idp worker`` (deliver the outbox: until stopped, ``--once``, or ``--reconcile CONNECTOR``)
and ``idp deliveries`` (list the jobs, retry dead-lettered ones).

The worker runs until SIGTERM or SIGINT, then lets the calls in flight finish, puts back the
jobs of its batch not yet started, and exits 0. Between batches it runs the periodic tasks
of ``periodic_tasks``. Several workers may share a PostgreSQL database; on SQLite run one.
Exit codes: 0 done, 2 invalid input or configuration, 3 not found, 4 conflict.
"""

from __future__ import annotations

import getpass
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session

from idp.cli.shared import (
    current_engine,
    echo_columns,
    echo_json,
    fail,
    main,
    refuse,
    session_on,
    settings_of,
)
from idp.errors import ConfigError, IdpError
from idp.provisioning import deliveries as service
from idp.settings import Settings

if TYPE_CHECKING:
    from idp.provisioning.worker import Periodic

log = logging.getLogger("idp.worker")


def periodic_tasks(sessions: Callable[[], Session], settings: Settings) -> list[Periodic]:
    """What the worker runs between batches."""
    from idp.oidc import due_logouts
    from idp.provisioning import expiry
    from idp.provisioning.worker import Periodic

    tasks = [Periodic(expiry.INTERVAL_S, expiry.task(sessions, settings), "expiry"),
             Periodic(due_logouts.INTERVAL_S, _back_channel(sessions, settings), "back-channel")]
    if any(org.directory.sync_interval_s > 0 for org in settings.organizations.values()):
        from idp.provisioning import sync  # each organization's sync_interval_s, checked here

        tasks.append(Periodic(sync.CHECK_INTERVAL_S, sync.task(sessions, settings), "directory sync"))
    return tasks


def _back_channel(sessions: Callable[[], Session], settings: Settings) -> Callable[[], None]:
    """Logout tokens and Security Event Tokens that are due (what ``idp logout deliver``
    does), among them those of the sessions a directory sync ended."""
    from idp.oidc.due_logouts import deliver_due

    def run() -> None:
        with sessions() as db:
            ended, delivered, failed = deliver_due(db, settings)
        if ended or delivered or failed:
            log.info("back-channel: %d expired session(s) ended, %d delivered, %d failed",
                     ended, delivered, failed)
    return run


@main.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (cron, tests).")
@click.option("--reconcile", "reconcile_name", metavar="CONNECTOR",
              help="Compare what CONNECTOR holds with the grants, queue the repairs, print a "
                   "JSON summary and exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool, reconcile_name: str | None) -> None:
    """Deliver access grants and revokes to the connectors (until stopped)."""
    from idp.provisioning.connectors import build_connectors
    from idp.provisioning.worker import Worker
    from idp.storage.base import make_session_factory

    settings = settings_of(ctx)
    try:
        connectors = build_connectors(settings)
    except ConfigError as exc:
        fail("The connectors cannot be built:", exc.problems)
    engine = current_engine(settings)
    sessions = make_session_factory(engine)
    try:
        if reconcile_name is not None:
            from idp.provisioning.reconcile import reconcile

            try:
                echo_json(reconcile(sessions, settings, connectors, reconcile_name))
            except IdpError as exc:
                refuse(exc)
            return
        _log_to_stderr(settings)
        if engine.dialect.name == "sqlite":
            log.info("SQLite: run a single worker on this database")
        job_worker = Worker(sessions, settings.delivery, connectors)
        tasks = periodic_tasks(sessions, settings)
        with _stopping_on_signals(job_worker.stop.set):
            log.info("worker %s started", job_worker.worker)
            try:
                tally = job_worker.run(tasks, once=once)
            finally:
                job_worker.close()
        log.info("worker %s stopped: %s", job_worker.worker, tally)
    finally:
        engine.dispose()


def _log_to_stderr(settings: Settings) -> None:
    from idp.logs import configure

    configure(settings.logging)  # [logging]: JSON lines, each job's with its own id, or text


@contextmanager
def _stopping_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing the calls in flight", signum)
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@main.group()
def deliveries() -> None:
    """The delivery jobs of the outbox: list them, retry dead-lettered ones."""


@contextmanager
def _database(ctx: click.Context) -> Iterator[Session]:
    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with session_on(engine) as session:
            try:
                yield session
            except IdpError as exc:
                session.rollback()
                refuse(exc)
    finally:
        engine.dispose()


_COLUMNS = ("id", "connector", "type", "resource", "campus_id", "state", "attempts", "last_error")
_WIDTHS = (8, 16, 7, 16, 10, 12, 8)


@deliveries.command("list")
@click.option("--state", type=click.Choice(service.STATES), help="Only jobs in this state.")
@click.option("--connector", help="Only jobs of this connector.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of a table.")
@click.pass_context
def deliveries_list(ctx: click.Context, state: str | None, connector: str | None,
                    as_json: bool) -> None:
    """The delivery jobs, oldest first."""
    with _database(ctx) as db:
        found = [service.job_json(j) for j in service.jobs(db, state=state, connector=connector)]
    if as_json:
        echo_json(found, ensure_ascii=False)
        return
    echo_columns([c.upper() for c in _COLUMNS], _WIDTHS)
    for job in found:
        echo_columns(["" if job[c] is None else str(job[c]) for c in _COLUMNS], _WIDTHS)


@deliveries.command("retry")
@click.argument("job_id", type=int, required=False)
@click.option("--all-failed", is_flag=True, help="Every failed job (of --connector, if given).")
@click.option("--connector", help="With --all-failed: only this connector's jobs.")
@click.option("--reason", default="retried from the command line", show_default=True,
              help="Why (recorded in the audit trail).")
@click.pass_context
def deliveries_retry(ctx: click.Context, job_id: int | None, all_failed: bool,
                     connector: str | None, reason: str) -> None:
    """Send a failed job again (same job, same idempotency key), or every failed one;
    prints the jobs retried as a JSON array."""
    if (job_id is None) == (not all_failed):
        fail("Give a job ID or --all-failed (not both).", [])
    actor = f"cli:{getpass.getuser()}"
    with _database(ctx) as db:
        if job_id is not None:
            retried = [service.retry(db, service.find(db, job_id), actor=actor, reason=reason)]
            skipped: list[int] = []
        else:
            retried, skipped = service.retry_all_failed(db, actor=actor, reason=reason,
                                                        connector=connector)
        db.commit()
        echo_json([service.job_json(j) for j in retried], ensure_ascii=False)
    if skipped:
        click.echo(f"Not retried (superseded by a newer job of the same person, resource and "
                   f"connector): {', '.join(map(str, skipped))}", err=True)
