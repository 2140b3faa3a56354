"""Where the login throttle's counters live: the ``ThrottleStore`` protocol, the arithmetic
of a leaky counter every store follows (``delay_after``, ``next_block``), and ``MemoryStore``,
the store of one process. ``idp.identity.throttle_redis`` is the shared one;
``idp.identity.throttle.build_throttle`` chooses between them from the settings.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Protocol

from idp.settings import ThrottleSchedule


def delay_after(schedule: ThrottleSchedule, failures: float) -> float:
    """How long the next attempt waits after ``failures`` (a decayed, fractional count)."""
    n = math.ceil(failures - 1e-9)
    if n < schedule.free_failures:
        return 0.0
    doublings = min(n - schedule.free_failures, 64)
    return float(min(schedule.max_delay_s, schedule.base_delay_s * 2.0**doublings))


def next_block(until: float, now: float, delay: float, amount: int) -> float:
    """The moment a key is blocked until after a charge (``amount`` > 0) or a forgiveness.

    A charge without delay leaves the block alone: were it moved to ``now``, a concurrent
    attempt that read the clock a moment earlier would count as blocked (two right passwords
    typed at once refused with "too many failed attempts"). Forgiving only ever shortens it."""
    if amount > 0:
        return max(until, now + delay) if delay > 0 else until
    return min(until, now + delay)


class ThrottleStore(Protocol):
    """Where the counters live. Each operation on one key is atomic; ``charge`` and ``settle``,
    a login attempt's two steps, are one call each to a shared store (``charge_with`` and
    ``settle_with`` make them of the single-key operations, for a store of one process)."""

    def blocked_until(self, key: str, now: float) -> float:
        """The moment the key may try again (in the past when it may now)."""
        ...

    def add(self, key: str, amount: int, now: float, schedule: ThrottleSchedule, *,
            unless_blocked: bool = False) -> tuple[bool, float]:
        """Charge (+1) or forgive (-1) one failure, moving the block accordingly; with
        ``unless_blocked`` nothing changes while the key is blocked. Returns whether it changed
        and the moment the key is blocked until."""
        ...

    def clear(self, key: str) -> None:
        ...

    def charge(self, account: str, address: str | None, now: float,
               schedule: ThrottleSchedule) -> tuple[str, float]:
        """A login attempt's charge, in one step: ``("address", until)`` while the address is
        blocked, else the account charged one failure unless blocked (``("account", until)``
        when it is); ``("", until)`` when it was charged."""
        ...

    def settle(self, account: str, address: str | None, gate: str, now: float,
               address_schedule: ThrottleSchedule, gate_schedule: ThrottleSchedule) -> None:
        """A right password, in one step: the account cleared, and its address forgiven one
        failure when ``gate`` (the account's credit to it) takes a charge."""
        ...


def charge_with(store: ThrottleStore, account: str, address: str | None, now: float,
                schedule: ThrottleSchedule) -> tuple[str, float]:
    """``ThrottleStore.charge`` over the store's single-key operations."""
    if address is not None:
        until = store.blocked_until(address, now)
        if until > now:
            return "address", until
    charged, until = store.add(account, 1, now, schedule, unless_blocked=True)
    return ("", until) if charged else ("account", until)


def settle_with(store: ThrottleStore, account: str, address: str | None, gate: str, now: float,
                address_schedule: ThrottleSchedule, gate_schedule: ThrottleSchedule) -> None:
    """``ThrottleStore.settle`` over the store's single-key operations."""
    store.clear(account)
    if address is None:
        return
    first, _ = store.add(gate, 1, now, gate_schedule, unless_blocked=True)
    if first:
        store.add(address, -1, now, address_schedule)


@dataclass
class _Counter:
    level: float = 0.0
    at: float = 0.0
    until: float = 0.0
    expires: float = 0.0


class MemoryStore:
    """``ThrottleStore`` of one process (dev mode, a single worker, or a Redis outage)."""

    SWEEP_EVERY = 1024

    def __init__(self) -> None:
        self._counters: dict[str, _Counter] = {}
        self._lock = threading.Lock()
        self._writes = 0

    def blocked_until(self, key: str, now: float) -> float:
        with self._lock:
            counter = self._counters.get(key)
            return counter.until if counter else 0.0

    def add(self, key: str, amount: int, now: float, schedule: ThrottleSchedule, *,
            unless_blocked: bool = False) -> tuple[bool, float]:
        with self._lock:
            counter = self._counters.get(key)
            if counter is None or counter.expires < now:
                counter = _Counter()
            if unless_blocked and now < counter.until:
                return False, counter.until
            elapsed = max(0.0, now - counter.at)
            level = max(0.0, max(0.0, counter.level - elapsed / schedule.forget_s) + amount)
            until = next_block(counter.until, now, delay_after(schedule, level), amount)
            expires = now + max(until - now, level * schedule.forget_s)
            self._counters[key] = _Counter(level, now, until, expires)
            self._writes += 1
            if self._writes % self.SWEEP_EVERY == 0:
                self._sweep(now)
            return True, until

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)

    def charge(self, account: str, address: str | None, now: float,
               schedule: ThrottleSchedule) -> tuple[str, float]:
        return charge_with(self, account, address, now, schedule)

    def settle(self, account: str, address: str | None, gate: str, now: float,
               address_schedule: ThrottleSchedule, gate_schedule: ThrottleSchedule) -> None:
        settle_with(self, account, address, gate, now, address_schedule, gate_schedule)

    def _sweep(self, now: float) -> None:
        """Forget fully decayed counters, so that sprayed usernames do not fill the memory."""
        for key in [k for k, c in self._counters.items() if c.expires < now]:
            del self._counters[key]
