"""Login throttling: growing delays after failed logins, per account and per client address.

Only failures count, so a lecture hall of students behind one NAT address logging in with right
passwords is never slowed down. Each key holds a leaky counter (``ThrottleSchedule``): a failure
adds one, one failure is forgotten every ``forget_s``; from ``free_failures`` on, the next
attempt waits ``base_delay_s``, doubling with each further failure up to ``max_delay_s``. Over
time a key allows at most one failure per ``forget_s``.

An account's attempt is charged atomically before the directory is asked (as if it failed, and
forgiven when it succeeds), so parallel guesses cannot slip past the limit. An address is only
checked before and charged after a failure, so that right passwords typed at the same moment
behind one NAT never hold each other up. Refused attempts are not counted. Keys are per
organization and normalised username (whether or not the account exists: the answer must not
tell) and per address (an IPv6 client by its /64 network).

An address weighs its failures against its successes: a right password forgives one failure
of its address, once per account every ``SUCCESS_CREDIT_EVERY_S`` (so one's own account,
logged into again and again, cannot pay for a spray). A lecture hall behind a NAT, whose typos
come among hundreds of right passwords, stays near zero; an address whose failures are spread
over many accounts with few successes (password spraying) is slowed after a few dozen.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from idp.settings import ThrottleSchedule, ThrottleSettings

Clock = Callable[[], float]
IPV6_NETWORK_BITS = 64
# How often one account's right password may forgive a failure of its address.
SUCCESS_CREDIT_EVERY_S = 600.0
# The credit's gate: a key that allows one charge per SUCCESS_CREDIT_EVERY_S.
_CREDIT_GATE = ThrottleSchedule(free_failures=0, base_delay_s=SUCCESS_CREDIT_EVERY_S,
                                max_delay_s=SUCCESS_CREDIT_EVERY_S, forget_s=SUCCESS_CREDIT_EVERY_S)


class ThrottleScope(StrEnum):
    ACCOUNT = "account"
    ADDRESS = "address"


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
    """Where the counters live. Each operation on one key is atomic."""

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

    def _sweep(self, now: float) -> None:
        """Forget fully decayed counters, so that sprayed usernames do not fill the memory."""
        for key in [k for k, c in self._counters.items() if c.expires < now]:
            del self._counters[key]


@dataclass(frozen=True)
class Attempt:
    """One login attempt as the throttle sees it: allowed, or refused for ``retry_after_s``."""

    account_key: str
    address_key: str | None
    allowed: bool = True
    retry_after_s: int = 0
    scope: ThrottleScope | None = None  # what refused it


class LoginThrottle:
    """Decides whether a login attempt may reach the directory, and counts its outcome."""

    def __init__(self, store: ThrottleStore, settings: ThrottleSettings,
                 clock: Clock = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    def begin(self, organization: str, username: str, ip: str | None) -> Attempt:
        """Check the address, then charge the account: a refused attempt changes nothing."""
        prefix = self.settings.key_prefix
        address = address_key(ip)
        attempt = Attempt(prefix + account_key(organization, username),
                          prefix + address if address else None)
        if not self.settings.enabled:
            return attempt
        now = self.clock()
        if attempt.address_key is not None:
            until = self.store.blocked_until(attempt.address_key, now)
            if until > now:
                return self._refused(attempt, until - now, ThrottleScope.ADDRESS)
        charged, until = self.store.add(attempt.account_key, 1, now, self.settings.account,
                                        unless_blocked=True)
        if not charged:
            return self._refused(attempt, until - now, ThrottleScope.ACCOUNT)
        return attempt

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account starts afresh, and its address is forgiven one
        failure, unless this account already earned it that credit a short while ago."""
        if not (self.settings.enabled and attempt.allowed):
            return
        self.store.clear(attempt.account_key)
        if attempt.address_key is None:
            return
        now = self.clock()
        gate = f"{attempt.address_key}:credit:{attempt.account_key.rsplit(':', 1)[-1]}"
        first, _ = self.store.add(gate, 1, now, _CREDIT_GATE, unless_blocked=True)
        if first:
            self.store.add(attempt.address_key, -1, now, self.settings.address)

    def failed(self, attempt: Attempt) -> None:
        """The account was charged in ``begin``; now the address is."""
        if self.settings.enabled and attempt.allowed and attempt.address_key is not None:
            self.store.add(attempt.address_key, 1, self.clock(), self.settings.address)

    def abandoned(self, attempt: Attempt) -> None:
        """No answer either way (the directory was unavailable): forgive the account's charge."""
        if self.settings.enabled and attempt.allowed:
            self.store.add(attempt.account_key, -1, self.clock(), self.settings.account)

    @staticmethod
    def _refused(attempt: Attempt, wait_s: float, scope: ThrottleScope) -> Attempt:
        return Attempt(attempt.account_key, attempt.address_key, allowed=False,
                       retry_after_s=max(1, math.ceil(wait_s)), scope=scope)


def account_key(organization: str, username: str) -> str:
    """``acct:`` and a digest of the organization and the normalised username (case and Unicode
    forms folded): a password typed into the username field never lands in the store."""
    normalised = unicodedata.normalize("NFKC", username).strip().casefold()
    digest = hashlib.sha256(f"{organization}\0{normalised}".encode()).hexdigest()[:32]
    return f"acct:{digest}"


def address_key(ip: str | None) -> str | None:
    """``addr:`` and the IPv4 address, or the /64 network of an IPv6 one (one host's share)."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return f"addr:{ip[:64]}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"addr:{address.ipv4_mapped}"
        network = ipaddress.IPv6Network((address, IPV6_NETWORK_BITS), strict=False)
        return f"addr:{network}"
    return f"addr:{address}"


def build_throttle(settings: ThrottleSettings, clock: Clock = time.time) -> LoginThrottle:
    """Redis when ``redis_url`` is set (shared by every process and host), else in-process."""
    store: ThrottleStore
    if settings.redis_url:
        from idp.identity.throttle_redis import RedisStore

        store = RedisStore(settings.redis_url)
    else:
        store = MemoryStore()
    return LoginThrottle(store, settings, clock)
