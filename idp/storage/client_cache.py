"""Clients as the protocol endpoints read them, kept for a moment between requests.

Every token, introspection, revocation and authorization request looks its client up, and a
login looked the same row up five times; that lookup cost as much CPU as signing a token. The
endpoints only read a client, so they get a snapshot: a *transient* ``Client`` built from the
row's columns, never attached to any session (attaching it by mistake inserts a duplicate and
fails loudly, rather than sharing one ORM object between threads).

Freshness: any flush or bulk UPDATE/DELETE of clients empties the cache of this process at
once, and again at commit; the commit also bumps a counter in memory shared by the gunicorn
workers (made before they fork), which every lookup compares with what it last saw, so a
client disabled, deleted or rotated in one worker is forgotten by all of them at once, for the
cost of reading one integer. A change from another program (the CLI) is seen after at most
``ttl_s`` seconds, except that a client whose secret fails on a remembered copy is
read again at once (``idp.context.forget_cached_clients``). Code that changes a client must
load it with ``find_client`` instead.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from idp.storage.clients import Client

DEFAULT_TTL_S = 2.0
_COLUMNS = tuple(attr.key for attr in inspect(Client).column_attrs)
_TABLE = cast(Table, Client.__table__)


class ClientCache:
    def __init__(self, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic,
                 shared: Any = None) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, Client]] = {}
        self._ids: dict[int, str] = {}  # primary key -> client_id; both fixed for a client's life
        self._lock = threading.Lock()
        # Anonymous shared memory: the forked workers of one server all see the same value.
        self._shared = shared if shared is not None else multiprocessing.Value("Q", 0, lock=False)
        self._shared_seen = 0
        self._generation = 0
        _caches.add(self)

    def get(self, db: Session, client_id: str) -> Client | None:
        """The live client with this id (deleted ones are absent), possibly ``ttl_s`` old."""
        return self.lookup(db, client_id)[0]

    def by_pk(self, db: Session | Callable[[], Session], pk: int) -> Client | None:
        """The live client with this primary key (a stored token's ``client_pk``): from memory
        when its ``client_id`` has been seen, since a client never changes its ``client_id``."""
        client_id = self._ids.get(pk)
        if client_id is None:
            if callable(db):
                db = db()
            client_id = db.scalar(select(_TABLE.c.client_id).where(_TABLE.c.id == pk))
            if client_id is None:
                return None
        found, _ = self.lookup(db, client_id)
        return found if found is not None and found.id == pk else None

    def lookup(self, db: Session | Callable[[], Session],
               client_id: str) -> tuple[Client | None, bool]:
        """``get``, and whether the answer came from memory rather than the database. ``db``
        may be a function giving the session, called only when the database is read."""
        if not client_id or len(client_id) > 64:
            return None, False
        now = self._clock()
        if self._shared.value != self._shared_seen:  # another worker changed a client
            self.clear()
        entry = self._entries.get(client_id)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1], True
        generation = self._generation
        if callable(db):
            db = db()
        row = db.execute(select(_TABLE).where(_TABLE.c.client_id == client_id,
                                              _TABLE.c.deleted_at.is_(None))).mappings().first()
        if row is None:
            return None, False
        snapshot = Client(**{key: row[key] for key in _COLUMNS})
        self._ids[snapshot.id] = client_id
        with self._lock:
            # A change flushed while we read wins: keep nothing read before it.
            if generation == self._generation:
                self._entries[client_id] = (now, snapshot)
        return snapshot, False

    def forget(self, client_id: str) -> None:
        """Drop one entry: the next lookup reads the database."""
        with self._lock:
            self._entries.pop(client_id, None)

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


class _Registry:
    """Every cache of this process, so a change anywhere in it reaches them all."""

    def __init__(self) -> None:
        self._caches: weakref.WeakSet[ClientCache] = weakref.WeakSet()

    def add(self, cache: ClientCache) -> None:
        self._caches.add(cache)

    def clear_all(self) -> None:
        for cache in list(self._caches):
            cache.clear()

    def committed(self) -> None:
        for cache in list(self._caches):
            cache.tell_other_workers()


_caches = _Registry()


CHANGED = "campus_id.clients_changed"


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, Client) for obj in changed):
        session.info[CHANGED] = True
        _caches.clear_all()


@event.listens_for(Session, "do_orm_execute")
def _on_bulk_change(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and _targets_clients(state.statement):
        state.session.info[CHANGED] = True
        _caches.clear_all()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # Again now that other transactions can read the change: a lookup between the flush and
    # the commit may have remembered the old row.
    if session.info.pop(CHANGED, False):
        _caches.committed()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(CHANGED, None)


def _targets_clients(statement: Any) -> bool:
    table = getattr(statement, "table", None)
    return table is _TABLE or getattr(table, "name", None) == "clients"
