"""The key ring a running process signs with, kept current without a restart.

Every ``reload_check_s`` at most, one cheap query (``key_generation``: how many keys exist and
how many are retired) tells whether another process rotated or retired a key; activations and
due retirements need no query, since the ring knows when its next change is due
(``KeyRing.valid_until``). Between checks a token request costs no query at all, and the JWKS
body is serialised once per ring. A failed check keeps the current ring and tries again later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from idp.oidc.keys import KeyRing, load_keyring
from idp.storage.base import utcnow
from idp.storage.keys import key_generation

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class LiveKeyRing:
    def __init__(self, engine: Engine, sessions: sessionmaker[Session], secret_key: str, *,
                 retention: timedelta, check_every: timedelta, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.sessions = sessions
        self.secret_key = secret_key
        self.retention = retention
        self.check_every = check_every
        self.clock = clock
        self._lock = threading.Lock()
        self._generation = self._read_generation()
        now = clock()
        self._ring = self._load(now)
        self._next_check = self._schedule_check(now)

    def current(self) -> KeyRing:
        if self.clock() < self._next_check:
            return self._ring
        with self._lock:
            now = self.clock()
            if now >= self._next_check:  # another thread may have refreshed meanwhile
                self._refresh(now)
        return self._ring

    def _refresh(self, now: datetime) -> None:
        try:
            generation = self._read_generation()
            until = self._ring.valid_until
            if generation != self._generation or (until is not None and now >= until):
                self._ring = self._load(now)
                self._generation = generation
        except SQLAlchemyError:
            log.warning("signing keys: could not check for changes; keeping the current keys",
                        exc_info=True)
        self._next_check = self._schedule_check(now)

    def _schedule_check(self, now: datetime) -> datetime:
        """The next check: after ``check_every``, or at the ring's next change if sooner."""
        until = self._ring.valid_until
        at = now + self.check_every
        return min(at, until) if until is not None and until > now else at

    def _read_generation(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            return key_generation(conn)

    def _load(self, now: datetime) -> KeyRing:
        """Keys already imported by the current ring are reused: a reload unseals new ones only."""
        current = getattr(self, "_ring", None)
        known = {str(k.kid): k for k in current.published} if current is not None else {}
        with self.sessions() as db:
            return load_keyring(db, self.secret_key, retention=self.retention, now=now,
                                known=known)
