"""Release policies as the token endpoint, UserInfo and the consent page read them, kept for a
moment between requests.

Every ID token, every UserInfo answer and every consent check needs the client's release
policy (``idp.storage.release``): one more query per login for rows that change a few times a
year. The same freshness rules as the client snapshots (``idp.storage.client_cache``) apply:
any flush or bulk UPDATE/DELETE of release policies empties the cache of this process at once,
and again at commit (or rollback); the commit also bumps a counter in memory shared by the
gunicorn workers (made before they fork), so a policy changed in the admin UI of one worker is
applied by all of them to the next token. A change made by another program (the CLI) is seen
after at most ``ttl_s`` seconds. What an administrator reads in order to change a policy comes
from the database (``policies_of``), never from here.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import Table, event, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from idp.storage.release import ReleasePolicy

DEFAULT_TTL_S = 2.0
_TABLE = cast(Table, ReleasePolicy.__table__)

Policies = Mapping[str, frozenset[str]]


class PolicyCache:
    def __init__(self, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic,
                 shared: Any = None) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[int, tuple[float, Policies]] = {}
        self._lock = threading.Lock()
        # Anonymous shared memory: the forked workers of one server all see the same value.
        self._shared = shared if shared is not None else multiprocessing.Value("Q", 0, lock=False)
        self._shared_seen = 0
        self._generation = 0
        _caches.add(self)

    def get(self, db: Session, client_pk: int) -> Policies:
        """``policies_of(db, client_pk)``, possibly ``ttl_s`` old, read-only."""
        now = self._clock()
        if self._shared.value != self._shared_seen:  # another worker changed a policy
            self.clear()
        entry = self._entries.get(client_pk)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1]
        generation = self._generation
        rows = db.execute(select(_TABLE.c.organization, _TABLE.c.claims)
                          .where(_TABLE.c.client_pk == client_pk)).all()
        policies: Policies = MappingProxyType({org: frozenset(claims) for org, claims in rows})
        with self._lock:
            # A change flushed while we read wins: keep nothing read before it.
            if generation == self._generation:
                self._entries[client_pk] = (now, policies)
        return policies

    def clear(self) -> None:
        with self._lock:
            self._shared_seen = self._shared.value
            self._generation += 1
            self._entries.clear()

    def tell_other_workers(self) -> None:
        """A committed change: every worker drops what it remembers."""
        self._shared.value = (self._shared.value + 1) % 2**63
        self.clear()


class _Registry:
    def __init__(self) -> None:
        self._caches: weakref.WeakSet[PolicyCache] = weakref.WeakSet()

    def add(self, cache: PolicyCache) -> None:
        self._caches.add(cache)

    def clear_all(self) -> None:
        for cache in list(self._caches):
            cache.clear()

    def committed(self) -> None:
        for cache in list(self._caches):
            cache.tell_other_workers()


_caches = _Registry()

CHANGED = "campus_id.release_policies_changed"


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, ReleasePolicy) for obj in changed):
        session.info[CHANGED] = True
        _caches.clear_all()


@event.listens_for(Session, "do_orm_execute")
def _on_bulk_change(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and _targets_policies(state.statement):
        state.session.info[CHANGED] = True
        _caches.clear_all()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # Again now that other transactions can read the change: a lookup between the flush and
    # the commit may have remembered the old rows.
    if session.info.pop(CHANGED, False):
        _caches.committed()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    # A lookup in the rolled-back transaction itself may have remembered its uncommitted rows.
    if session.info.pop(CHANGED, False):
        _caches.clear_all()


def _targets_policies(statement: Any) -> bool:
    table = getattr(statement, "table", None)
    return table is _TABLE or getattr(table, "name", None) == _TABLE.name
