"""Idle LDAP connections kept per server, so a login does not pay a TCP (and TLS) handshake and
a service bind before its search.

A connection is lent to one thread at a time. Whoever borrows it says what it did: a connection
left bound as someone other than the service account is bound as it again before its next
search (``idp.directory.ldap`` keeps people's binds in a pool of their own, whose connections
never search); one that failed in any way is closed, never returned, so a
server that went away or hung costs at most the connections lent at that moment. Connections
inherited across ``fork`` (gunicorn workers) are never used: libldap sockets cannot be shared.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ldap

# Enough for every thread of a worker to hold one; more idle ones would only hold server slots.
MAX_IDLE = 16


@dataclass
class Lent:
    """A connection on loan: ``reused`` when it served an earlier login (it may have been
    closed by the server since), ``service_bound`` while the service account is bound."""

    conn: Any
    reused: bool
    service_bound: bool = True


class ConnectionPool:
    """The idle connections to one server URI. ``open`` returns a new connection already bound
    as the service account."""

    def __init__(self, open_: Callable[[], Any], max_idle: int = MAX_IDLE) -> None:
        self._open = open_
        self._max_idle = max_idle
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def borrow(self) -> Lent:
        """An idle connection when there is one (the borrower binds it as the service account
        again when ``service_bound`` is false), otherwise a new one."""
        idle = self._take()
        if idle is None:
            return Lent(self._open(), reused=False)
        conn, service_bound = idle
        return Lent(conn, reused=True, service_bound=service_bound)

    def give_back(self, lent: Lent) -> None:
        """Keep a connection that completed its work (whatever it is bound as now)."""
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < self._max_idle:
                self._idle.append((lent.conn, lent.service_bound))
                return
        close(lent.conn)

    def clear(self) -> None:
        """Close every idle connection: the server restarted or failed, so they are all dead."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            close(conn)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def _take(self) -> tuple[Any, bool] | None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours
                self._idle, self._pid = [], os.getpid()
            return self._idle.pop() if self._idle else None


def close(conn: Any) -> None:
    with contextlib.suppress(ldap.LDAPError):
        conn.unbind_s()
