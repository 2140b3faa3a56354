"""Release policies as the token endpoint, UserInfo and the consent page read them, kept for a
moment between requests.

Every ID token, every UserInfo answer and every consent check needs the client's release
policy (``idp.storage.release``): one more query per login for rows that change a few times a
year. Freshness follows ``idp.storage.snapshot_cache``, as for the client snapshots: a policy
changed in the admin UI of one worker is applied by all of them to the next token, and a
change made by another program (the CLI) is seen after at most ``ttl_s`` seconds. What an
administrator reads in order to change a policy comes from the database (``policies_of``),
never from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from idp.storage.release import ReleasePolicy
from idp.storage.snapshot_cache import DEFAULT_TTL_S, ChangeWatch, SnapshotCache

_TABLE = cast(Table, ReleasePolicy.__table__)
_WATCH = ChangeWatch(ReleasePolicy, _TABLE)

Policies = Mapping[str, frozenset[str]]


class PolicyCache(SnapshotCache[int, Policies]):
    def __init__(self, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic,
                 shared: Any = None) -> None:
        super().__init__(_WATCH, ttl_s, clock, shared)

    def get(self, db: Session | Callable[[], Session], client_pk: int) -> Policies:
        """``policies_of(db, client_pk)``, possibly ``ttl_s`` old, read-only. ``db`` may be a
        function giving the session, called only when the database is read."""
        policies, _ = self.get_or_read(client_pk, lambda: self._read(db, client_pk))
        assert policies is not None  # _read always has an answer, if only an empty one
        return policies

    @staticmethod
    def _read(db: Session | Callable[[], Session], client_pk: int) -> Policies:
        if callable(db):
            db = db()
        rows = db.execute(select(_TABLE.c.organization, _TABLE.c.claims)
                          .where(_TABLE.c.client_pk == client_pk)).all()
        return MappingProxyType({org: frozenset(claims) for org, claims in rows})
