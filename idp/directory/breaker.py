"""A circuit breaker for one remote service (a directory server, Redis): after it failed, the
callers skip it and take their fallback at once, while one background thread probes it and
closes the breaker as soon as it answers again.

Only the callers that were already waiting when it failed pay the failure; the probe is the
only one that waits on the service while it is down. Breakers hold a thread only while open,
and a process forked while one is open (gunicorn's workers) starts with it closed. The probe
thread holds its owner (the directory, the store) weakly and stops once nobody else holds it:
a directory replaced or dropped never leaves a thread probing a dead server for good.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
PROBE_PAUSE_S = 1.0
T = TypeVar("T")


class CircuitBreaker(Generic[T]):
    """``probe(owner)`` raises while the service is down and returns once it answers."""

    def __init__(self, name: str, owner: T, probe: Callable[[T], None], *,
                 pause_s: float = PROBE_PAUSE_S) -> None:
        self.name = name
        self._owner = weakref.ref(owner)
        self._probe = probe
        self._pause_s = pause_s
        self._lock = threading.Lock()
        self._open = False
        self._pid = os.getpid()
        self._closed = threading.Event()
        self._stopped = threading.Event()

    @property
    def is_open(self) -> bool:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's probe thread is not ours
                self._pid, self._open = os.getpid(), False
            return self._open

    def trip(self, reason: str) -> None:
        """Open the breaker (if it is not already) and start probing in the background."""
        with self._lock:
            if self._open and self._pid == os.getpid():
                return
            self._open, self._pid = True, os.getpid()
            self._closed.clear()
        log.warning("%s did not answer (%s): skipped until it answers a background probe",
                    self.name, reason)
        threading.Thread(target=self._probe_until_it_answers, name=f"probe {self.name}",
                         daemon=True).start()

    def stop(self) -> None:
        """No more probing: the owner is being closed."""
        self._stopped.set()

    def wait_closed(self, timeout_s: float) -> bool:
        """For tests and shutdown: whether the breaker closed within ``timeout_s``."""
        return self._closed.wait(timeout_s)

    def _probe_until_it_answers(self) -> None:
        while not self._stopped.is_set():
            owner = self._owner()
            if owner is None:
                return  # its owner is gone: nobody waits for the answer
            try:
                self._probe(owner)
            except Exception as exc:  # any failure means "not yet"
                log.debug("%s: probe failed: %s", self.name, exc)
                del owner  # not held while sleeping
                self._stopped.wait(self._pause_s)
                continue
            with self._lock:
                self._open = False
                self._closed.set()
            log.warning("%s answers again", self.name)
            return
