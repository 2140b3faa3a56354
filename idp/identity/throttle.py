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
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from idp.identity.throttle_redis import RedisStore
from idp.identity.throttle_store import MemoryStore, ThrottleStore
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
        refused_by, until = self.store.charge(attempt.account_key, attempt.address_key, now,
                                              self.settings.account)
        if refused_by:
            return self._refused(attempt, until - now, ThrottleScope(refused_by))
        return attempt

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account starts afresh, and its address is forgiven one
        failure, unless this account already earned it that credit a short while ago."""
        if not (self.settings.enabled and attempt.allowed):
            return
        gate = f"{attempt.address_key}:credit:{attempt.account_key.rsplit(':', 1)[-1]}"
        self.store.settle(attempt.account_key, attempt.address_key, gate, self.clock(),
                          self.settings.address, _CREDIT_GATE)

    def failed(self, attempt: Attempt) -> None:
        """The account was charged in ``begin``; now the address is."""
        if self.settings.enabled and attempt.allowed and attempt.address_key is not None:
            self.store.add(attempt.address_key, 1, self.clock(), self.settings.address)

    def abandoned(self, attempt: Attempt) -> None:
        """No answer either way (the directory was unavailable): forgive the account's charge."""
        if self.settings.enabled and attempt.allowed:
            self.store.add(attempt.account_key, -1, self.clock(), self.settings.account)

    def account_held_until(self, organization: str, username: str) -> float:
        """The moment an account's next attempt may reach the directory, read from the store
        without charging anything (0: it may now). ``username`` as ``begin`` counts it."""
        if not self.settings.enabled:
            return 0.0
        now = self.clock()
        key = self.settings.key_prefix + account_key(organization, username)
        until = self.store.blocked_until(key, now)
        return until if until > now else 0.0

    def forgive_account(self, organization: str, username: str) -> None:
        """The account starts afresh, as after a right password (the helpdesk's clear); its
        addresses keep their counts."""
        self.store.clear(self.settings.key_prefix + account_key(organization, username))

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
    """The one place a store is chosen: Redis when ``redis_url`` is set (shared by every
    process and host), else in-process."""
    store: ThrottleStore = RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()
    return LoginThrottle(store, settings, clock)
