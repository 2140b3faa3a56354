"""Keeps the client connections of ``idp serve`` (granian) spread evenly over its workers.

A keep-alive connection stays on the worker that accepted it, and the kernel hands a new
connection to whichever worker accepts first, not to the least busy. Every worker gets the same
share of the CPU whatever it holds, so with a few long-lived connections (a reverse proxy's
pool, a busy client) the clients of the fuller worker wait longer: 16 connections over 2 workers
were split anywhere from 4/12 to 8/8 from one run to the next, and the whole-login p99 of
``make bench`` went from about 100 ms at 8/8 to 120 at 4/12 (docs/operations.md).

So each worker counts the client connections it holds (its own sockets on the served port,
found in ``/proc/self/fd`` every ``INTERVAL_S``) and writes the count into memory shared by the
workers (made before they fork). A worker holding more than its fair share (all the workers'
connections divided by the workers, rounded up) answers that many responses with ``Connection:
close``: those clients connect again, and the kernel hands the new connections to any worker.
Elsewhere than Linux nothing is counted and nothing changes.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

INTERVAL_S = 0.05  # how often a worker counts its connections (about 0.1 ms a count, a few dozen files open)
STALE_S = 1.0  # a worker whose count is older than this has stopped: its slot is free
_FIELDS = 3  # per worker slot: pid, connections held, when counted (monotonic ms)

StartResponse = Callable[..., Any]


def held_connections(port: int, fds_dir: str = "/proc/self/fd") -> int | None:
    """How many connected TCP sockets of this process have ``port`` as their local port (the
    served port: the clients' connections); None where the process cannot list its files."""
    try:
        names = os.listdir(fds_dir)
    except OSError:
        return None
    held = 0
    for name in names:
        try:
            fd = int(name)
            if stat.S_ISSOCK(os.fstat(fd).st_mode) and _is_client_connection(fd, port):
                held += 1
        except (OSError, ValueError):
            continue  # closed meanwhile
    return held


def _is_client_connection(fd: int, port: int) -> bool:
    """Whether the socket ``fd`` is a TCP connection whose local port is ``port``."""
    duplicate = os.dup(fd)  # looked at through a duplicate: the server's own stays untouched
    try:
        sock = socket.socket(fileno=duplicate)  # its family and type read from the socket
    except OSError:
        os.close(duplicate)
        raise
    with sock:
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            return False
        if sock.getsockname()[1] != port:
            return False
        try:
            sock.getpeername()
        except OSError:
            return False  # the listening socket: no peer
        return True


def fair_share(counts: Iterable[int], workers: int) -> int:
    """The most connections one of ``workers`` workers should hold, given every worker's count."""
    return -(-sum(counts) // max(1, workers))


class SharedCounts:
    """The workers' connection counts, in anonymous shared memory made before the fork."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._slots = 2 * workers  # room for workers started again while a stopped one's count ages
        self._values = multiprocessing.Array("q", _FIELDS * self._slots, lock=False)
        self._claim = multiprocessing.Lock()

    def claim(self, pid: int, now_ms: int) -> int | None:
        """A slot for the worker ``pid``: a free one, or one whose count has gone stale."""
        with self._claim:
            for slot in range(self._slots):
                at = _FIELDS * slot
                if self._values[at] == 0 or now_ms - self._values[at + 2] > STALE_S * 1000:
                    self._values[at:at + _FIELDS] = [pid, 0, now_ms]
                    return slot
        return None

    def publish(self, slot: int, held: int, now_ms: int) -> None:
        at = _FIELDS * slot
        self._values[at + 1] = held
        self._values[at + 2] = now_ms

    def current(self, now_ms: int) -> list[int]:
        """The counts of the workers that counted lately."""
        values = self._values[:]
        return [values[at + 1] for at in range(0, len(values), _FIELDS)
                if values[at] and now_ms - values[at + 2] <= STALE_S * 1000]


class ConnectionSpread:
    """WSGI middleware: ``start`` in each worker after the fork; then, while the worker holds
    more than its fair share, ends that many connections after their response (see the module)."""

    def __init__(self, app: Any, port: int, counts: SharedCounts,
                 count: Callable[[int], int | None] = held_connections) -> None:
        self.app = app
        self.port = port
        self.counts = counts
        self._count = count
        self._slot: int | None = None
        self._to_close = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        """Claim a slot and count every ``INTERVAL_S`` in a thread of this worker."""
        if self.claim():
            threading.Thread(target=self._watch, name="connection-spread", daemon=True).start()

    def claim(self) -> bool:
        """Take a slot for this worker's count; False where there is nothing to count with."""
        if self._count(self.port) is None:
            return False  # no /proc
        self._slot = self.counts.claim(os.getpid(), _now_ms())
        return self._slot is not None

    def check(self) -> None:
        """Count this worker's connections, publish the count, and set how many to close."""
        held = self._count(self.port)
        if held is None or self._slot is None:
            return
        now = _now_ms()
        self.counts.publish(self._slot, held, now)
        over = held - fair_share(self.counts.current(now), self.counts.workers)
        with self._lock:
            self._to_close = max(0, over)

    def _watch(self) -> None:
        while True:
            time.sleep(INTERVAL_S)
            self.check()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        if self._to_close and self._take_one():
            def closing(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                return start_response(status, [*headers, ("Connection", "close")], exc_info)
            return self.app(environ, closing)
        return self.app(environ, start_response)

    def _take_one(self) -> bool:
        with self._lock:
            if self._to_close <= 0:
                return False
            self._to_close -= 1
            return True


def _now_ms() -> int:
    return int(time.monotonic() * 1000)  # CLOCK_MONOTONIC: the same clock in every worker
