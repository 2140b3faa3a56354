"""Clients as the protocol endpoints read them, kept for a moment between requests.

Every token, introspection, revocation and authorization request looks its client up, and a
login looked the same row up five times; that lookup cost as much CPU as signing a token. The
endpoints only read a client, so they get a snapshot: a *transient* ``Client`` built from the
row's columns, never attached to any session (attaching it by mistake inserts a duplicate and
fails loudly, rather than sharing one ORM object between threads).

Freshness follows ``idp.storage.snapshot_cache``: a client disabled, deleted or rotated in one
worker is forgotten by all of them at once. A change from another program (the CLI) is seen
after at most ``ttl_s`` seconds, except that a client whose secret fails on a remembered copy
is read again at once (``idp.context.forget_cached_clients``). Code that changes a client must
load it with ``find_client`` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, inspect, select
from sqlalchemy.orm import Session

from idp.storage.clients import Client
from idp.storage.snapshot_cache import DEFAULT_TTL_S, ChangeWatch, SnapshotCache

_COLUMNS = tuple(attr.key for attr in inspect(Client).column_attrs)
_TABLE = cast(Table, Client.__table__)
_WATCH = ChangeWatch(Client, _TABLE)

SessionOrFactory = Session | Callable[[], Session]


class ClientCache(SnapshotCache[str, Client]):
    def __init__(self, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic,
                 shared: Any = None) -> None:
        super().__init__(_WATCH, ttl_s, clock, shared)
        self._ids: dict[int, str] = {}  # primary key -> client_id; both fixed for a client's life

    def get(self, db: Session, client_id: str) -> Client | None:
        """The live client with this id (deleted ones are absent), possibly ``ttl_s`` old."""
        return self.lookup(db, client_id)[0]

    def by_pk(self, db: SessionOrFactory, pk: int) -> Client | None:
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

    def lookup(self, db: SessionOrFactory, client_id: str) -> tuple[Client | None, bool]:
        """``get``, and whether the answer came from memory rather than the database. ``db``
        may be a function giving the session, called only when the database is read."""
        if not client_id or len(client_id) > 64:
            return None, False
        return self.get_or_read(client_id, lambda: self._read(db, client_id))

    def _read(self, db: SessionOrFactory, client_id: str) -> Client | None:
        session = db() if callable(db) else db
        row = session.execute(select(_TABLE).where(_TABLE.c.client_id == client_id,
                                                   _TABLE.c.deleted_at.is_(None))).mappings().first()
        if row is None:
            return None
        snapshot = Client(**{key: row[key] for key in _COLUMNS})
        self._ids[snapshot.id] = client_id
        return snapshot
