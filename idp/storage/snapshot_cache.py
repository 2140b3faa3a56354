"""Rows that change rarely and are read on every request, kept for a moment between requests:
the freshness rules the client and release-policy caches share.

A ``ChangeWatch`` follows one table in every session of the process. Any flush of its mapped
objects, or bulk INSERT/UPDATE/DELETE of the table, empties the caches that watch it at once,
and again at commit or rollback (a lookup between the change and the end of its transaction
may have remembered rows that are no longer or not yet true). The commit also bumps a counter
in memory shared by the server's worker processes (made before they fork, under granian, the
default, as under gunicorn: ``idp.web.serve``), which every lookup compares with what it last
saw, so a change committed in one worker reaches all of them at once for the cost of reading
one integer. A change from another program (the CLI) is seen after at most
``ttl_s`` seconds.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

DEFAULT_TTL_S = 2.0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SnapshotCache(Generic[K, V]):
    def __init__(self, watch: ChangeWatch, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.monotonic, shared: Any = None) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        # Anonymous shared memory: the forked workers of one server all see the same value.
        self._shared = shared if shared is not None else multiprocessing.Value("Q", 0, lock=False)
        self._shared_seen = 0
        self._generation = 0
        watch.add(self)

    def get_or_read(self, key: K, read: Callable[[], V | None]) -> tuple[V | None, bool]:
        """The remembered value, or ``read()``'s (remembered unless None); and whether it
        came from memory."""
        now = self._clock()
        if self._shared.value != self._shared_seen:  # another worker committed a change
            self.clear()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1], True
        generation = self._generation
        value = read()
        if value is not None:
            with self._lock:
                # A change flushed while we read wins: keep nothing read before it.
                if generation == self._generation:
                    self._entries[key] = (now, value)
        return value, False

    def remembered(self, key: K) -> V | None:
        """The value remembered for ``key`` while it is fresh; None when only the database
        can tell (nothing is read here)."""
        if self._shared.value != self._shared_seen:
            self.clear()
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry[0] < self.ttl_s:
            return entry[1]
        return None

    def forget(self, key: K) -> None:
        """Drop one entry: the next lookup reads the database."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._shared_seen = self._shared.value
            self._generation += 1
            self._entries.clear()

    def tell_other_workers(self) -> None:
        """A committed change: every worker drops what it remembers (lost updates of this
        plain counter are harmless, any change of its value is enough)."""
        self._shared.value = (self._shared.value + 1) % 2**63
        self.clear()


class ChangeWatch:
    """Every cache of this process that holds rows of ``table``, emptied when it changes."""

    def __init__(self, mapped: type, table: Table) -> None:
        self._mapped = mapped
        self._table = table
        self._flag = f"campus_id.changed.{table.name}"
        self._caches: weakref.WeakSet[SnapshotCache[Any, Any]] = weakref.WeakSet()
        event.listen(Session, "after_flush", self._after_flush)
        event.listen(Session, "do_orm_execute", self._on_bulk_change)
        event.listen(Session, "after_commit", self._after_commit)
        event.listen(Session, "after_rollback", self._after_rollback)

    def add(self, cache: SnapshotCache[Any, Any]) -> None:
        self._caches.add(cache)

    def _clear_all(self) -> None:
        for cache in list(self._caches):
            cache.clear()

    def _changed(self, session: Session) -> None:
        session.info[self._flag] = True
        self._clear_all()

    def _after_flush(self, session: Session, _flush: UOWTransaction) -> None:
        if any(isinstance(obj, self._mapped) for obj in (*session.new, *session.dirty, *session.deleted)):
            self._changed(session)

    def _on_bulk_change(self, state: ORMExecuteState) -> None:
        if state.is_update or state.is_delete or state.is_insert:
            table = getattr(state.statement, "table", None)
            if table is self._table or getattr(table, "name", None) == self._table.name:
                self._changed(state.session)

    def _after_commit(self, session: Session) -> None:
        # Again now that other transactions can read the change, and in every worker.
        if session.info.pop(self._flag, False):
            for cache in list(self._caches):
                cache.tell_other_workers()

    def _after_rollback(self, session: Session) -> None:
        if session.info.pop(self._flag, False):
            self._clear_all()
