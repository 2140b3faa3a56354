"""The directory sync of one organization: who joined, who changed, who was disabled, who left.

The listing (``ListableDirectory.listing``: everything, or what changed since the last mark) is
read a page at a time with no transaction open; each page is then written in a transaction of
its own (``idp.provisioning.sync_accounts``: accounts created, linked, refreshed, reactivated;
grants that start). Nothing that takes access away is written during the listing: the accounts
to disable, and on a full listing those it no longer names (gone), are collected, and only once
the listing is complete does the safety brake decide. The sync STOPS, ending nothing and keeping
its mark where it was, when the listing fails part of the way (or anything else does), when a
full listing names nobody while the organization has active accounts, or when it would take
access from more accounts than the organization's limits (``idp.provisioning.brake``); only
``accept_removals`` lets the last two through. Otherwise the removals are applied
(``idp.provisioning.sync_removals``) and the next mark is kept.

``disabled`` and ``gone`` count the known accounts the sync found disabled or gone (ended,
unless ``stopped`` says why not); accounts created by the sync count as ``new`` only.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from idp.directory.base import DirectoryEntry, DirectoryListing, ListableDirectory
from idp.errors import DirectoryUnavailable
from idp.linking.rules import Linker
from idp.provisioning import brake
from idp.provisioning.sync_accounts import write_page
from idp.provisioning.sync_removals import apply_removals
from idp.provisioning.sync_run import PageOutcome, SyncRun
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import GONE, IN_DIRECTORY, LinkedAccount
from idp.storage.provisioning import DirectorySyncState

logger = logging.getLogger(__name__)

FULL_SYNC_EVERY = timedelta(days=1)  # a scheduled sync is full once a day, incremental otherwise
CHECK_INTERVAL_S = 60.0  # how often the worker looks for a sync that is due
PAGE_ATTEMPTS = 3
_ANALYZE_AT = tuple(2000 * 4 ** n for n in range(10))


@dataclass(frozen=True)
class SyncResult:
    """What ``idp directory sync --json`` prints for one organization."""

    organization: str
    seen: int
    new: int
    changed: int
    disabled: int
    gone: int
    grants_ended: int
    stopped: str | None

    def as_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Totals:
    seen: int = 0
    skipped: int = 0
    found: PageOutcome = field(default_factory=PageOutcome)
    listed: set[str] = field(default_factory=set)


def sync_organization(sessions: Callable[[], Session], settings: Settings,
                      directory: ListableDirectory, *, full: bool = False,
                      accept_removals: bool = False, linker: Linker | None = None,
                      now: datetime | None = None) -> SyncResult:
    """Sync one organization (incremental from its mark unless ``full`` or there is none)."""
    org = directory.organization
    run = SyncRun(org, f"directory-sync:{org}", now or utcnow())
    since = None if full else _state(sessions, org).mark
    listing, totals, stopped = _read(sessions, settings, linker or Linker.from_settings(settings),
                                     run, directory, since)
    whole = stopped is None and listing is not None and not listing.incremental
    removals, ending = dict(totals.found.removals), set(totals.found.ending)
    if whole:
        _add_gone(sessions, run, totals.listed, removals, ending)
    active = _active_accounts(sessions, org)
    if stopped is None and not accept_removals:
        stopped = _brake(settings, org, whole, totals.seen, len(ending), active)
    ended = None
    if stopped is None:
        ended = apply_removals(sessions, settings, run, removals, totals.found.held)
    result = SyncResult(
        org, totals.seen, totals.found.new, totals.found.changed,
        ended.disabled if ended else sum(1 for s in removals.values() if s != GONE),
        ended.gone if ended else sum(1 for s in removals.values() if s == GONE),
        ended.grants_ended if ended else 0, stopped)
    _finish(sessions, run, result, listing if stopped is None else None, whole=whole,
            skipped=totals.skipped, ending=len(ending), active=active)
    return result


def _read(sessions: Callable[[], Session], settings: Settings, linker: Linker, run: SyncRun,
          directory: ListableDirectory,
          since: str | None) -> tuple[DirectoryListing | None, _Totals, str | None]:
    """Read the listing page by page, writing each page as it comes; why it stopped short, if
    it did (then what it read is not the directory, and nothing may be ended by it)."""
    totals = _Totals()
    listing = None
    try:
        listing = directory.listing(since)
        page_size = settings.organizations[run.organization].directory.sync_page_size
        for page in _pages(listing.entries, page_size):
            totals.seen += len(page)
            totals.listed.update(e.account.external_id for e in page)
            before = totals.found.new
            totals.found.add(_write(sessions, settings, linker, run, page))
            _analyze_when_grown(sessions, before, totals.found.new)
        totals.skipped = listing.skipped
    except DirectoryUnavailable as exc:
        return listing, totals, f"the directory failed before the listing was complete ({exc.detail})"
    except Exception:
        logger.exception("directory sync of %s failed", run.organization)
        return listing, totals, "the sync failed before the listing was complete (the log has the error)"
    return listing, totals, None


def _pages(entries: Iterator[DirectoryEntry], size: int) -> Iterator[list[DirectoryEntry]]:
    while page := list(itertools.islice(entries, max(size, 1))):
        yield page


def _write(sessions: Callable[[], Session], settings: Settings, linker: Linker, run: SyncRun,
           page: list[DirectoryEntry]) -> PageOutcome:
    """One page in one transaction, opened after the page was read. A login that created one
    of its accounts in the meantime (the unique key of the account says so, or PostgreSQL
    breaks a deadlock with it) makes the page start again, finding that account this time."""
    for attempt in range(PAGE_ATTEMPTS):
        try:
            with sessions() as db:
                outcome = write_page(db, settings, linker, run, page)
                db.commit()
            return outcome
        except (IntegrityError, OperationalError):
            if attempt == PAGE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _analyze_when_grown(sessions: Callable[[], Session], before: int, now: int) -> None:
    """PostgreSQL: fresh planner statistics for the tables a sync reads by key, each time the
    accounts it created pass 2,000, 8,000, 32,000... A first sync multiplies their size within
    a minute, before autovacuum would look, and plans made for an empty table (reading every
    row of it) would otherwise serve it to the end."""
    if not any(before < mark <= now for mark in _ANALYZE_AT):
        return
    with sessions() as db:
        if db.get_bind().dialect.name != "postgresql":
            return
        db.execute(text("ANALYZE identities, identity_aliases, linked_accounts, "
                        "match_fingerprints, access_grants"))
        db.commit()


def _state(sessions: Callable[[], Session], org: str) -> DirectorySyncState:
    with sessions() as db:
        state = db.get(DirectorySyncState, org)
        if state is None:
            return DirectorySyncState(organization=org, mark=None, last_result={})
        db.expunge(state)
        return state


def _add_gone(sessions: Callable[[], Session], run: SyncRun, listed: set[str],
              removals: dict[int, str], ending: set[int]) -> None:
    """Accounts of the organization a full listing did not name. One that logged in while the
    sync ran is not gone: its directory answered for it then."""
    with sessions() as db:
        rows = db.execute(select(LinkedAccount.id, LinkedAccount.external_id,
                                 LinkedAccount.directory_state, LinkedAccount.last_login_at)
                          .where(LinkedAccount.organization == run.organization,
                                 LinkedAccount.directory_state != GONE))
        for account_id, external_id, state, last_login in rows:
            if external_id in listed or (last_login is not None and last_login >= run.now):
                continue
            removals[account_id] = GONE
            if state == IN_DIRECTORY:
                ending.add(account_id)


def _active_accounts(sessions: Callable[[], Session], org: str) -> int:
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(LinkedAccount).where(
            LinkedAccount.organization == org,
            LinkedAccount.directory_state == IN_DIRECTORY)) or 0


def _brake(settings: Settings, org: str, whole: bool, seen: int, ending: int,
           active: int) -> str | None:
    if whole and seen == 0 and active > 0:
        return (f"{org}: the directory listed no accounts while {active} are active; run again "
                "with --accept-removals if it really is empty")
    directory = settings.organizations[org].directory
    if brake.over_limit(ending, active, directory):
        return brake.reason(org, ending, active, directory)
    return None


def _finish(sessions: Callable[[], Session], run: SyncRun, result: SyncResult,
            listing: DirectoryListing | None, *, whole: bool, skipped: int, ending: int,
            active: int) -> None:
    """Keep the next mark (only after a sync that was not stopped) and audit the result."""
    with sessions() as db:
        state = db.get(DirectorySyncState, run.organization)
        if state is None:
            state = DirectorySyncState(organization=run.organization, mark=None, last_result={})
            db.add(state)
        state.last_sync_at = run.now
        state.last_result = result.as_json()
        if listing is not None:
            state.mark = listing.mark
            if whole:
                state.last_full_at = run.now
        counts: dict[str, Any] = {k: v for k, v in result.as_json().items()
                                  if k not in ("organization", "stopped")}
        if result.stopped is None:
            audit.record(db, AuditEventType.DIRECTORY_SYNCED, actor=run.actor,
                         organization=run.organization, full=whole, skipped=skipped, **counts)
        else:
            audit.record(db, AuditEventType.DIRECTORY_SYNC_STOPPED, actor=run.actor,
                         organization=run.organization, reason=result.stopped, full=whole,
                         skipped=skipped, removing=ending, active=active, **counts)
        db.commit()


def sync_due(sessions: Callable[[], Session], settings: Settings,
             directories: Mapping[str, object], now: datetime | None = None) -> list[SyncResult]:
    """The scheduled syncs: every organization whose ``sync_interval_s`` has passed since its
    last sync, full when the last full one is a day old (or there is no mark), incremental
    otherwise. Each is claimed first (its ``last_sync_at`` moved to now only if still due), so
    that of several workers one syncs. One organization's failure is logged and does not keep
    the others from their turn."""
    now = now or utcnow()
    results = []
    for org_id, org in settings.organizations.items():
        directory = directories.get(org_id)
        interval = org.directory.sync_interval_s
        if interval <= 0 or not isinstance(directory, ListableDirectory):
            continue
        state = _claim(sessions, org_id, now - timedelta(seconds=interval), now)
        if state is None:
            continue
        full = (state.mark is None or state.last_full_at is None
                or now - state.last_full_at >= FULL_SYNC_EVERY)
        try:
            results.append(sync_organization(sessions, settings, directory, full=full, now=now))
        except Exception:
            logger.exception("scheduled directory sync of %s failed", org_id)
    return results


def _claim(sessions: Callable[[], Session], org: str, due_by: datetime,
           now: datetime) -> DirectorySyncState | None:
    """The organization's sync state, claimed for a sync at ``now`` when its last sync was at
    ``due_by`` or before; None when it is not due or another worker claimed it first."""
    with sessions() as db:
        if db.get(DirectorySyncState, org) is None:
            try:
                db.add(DirectorySyncState(organization=org, mark=None, last_result={},
                                          last_sync_at=now))
                db.commit()
            except IntegrityError:
                return None
            return _state(sessions, org)
        claimed = db.execute(
            update(DirectorySyncState)
            .where(DirectorySyncState.organization == org,
                   DirectorySyncState.last_sync_at.is_(None)
                   | (DirectorySyncState.last_sync_at <= due_by))
            .values(last_sync_at=now).execution_options(synchronize_session=False))
        db.commit()
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
    return _state(sessions, org)


def task(sessions: Callable[[], Session], settings: Settings) -> Callable[[], None]:
    """The worker's periodic task: the syncs that are due, over directories built once."""
    directories: dict[str, object] = {}

    def run() -> None:
        if not directories:
            from idp.directory.registry import build_directories

            directories.update(build_directories(settings))
        for result in sync_due(sessions, settings, directories):
            logger.info("directory sync: %s", result.as_json())
    return run
