"""``ThrottleStore`` in Redis, shared by every worker and host: one hash per key, changed by one
Lua script so that reading, decaying and charging a counter is a single atomic step.

The time comes from the caller (hosts keep their clocks in step with NTP); Redis only expires
a key once its counter has decayed and its block has passed. When Redis does not answer, the
process counts on its own (``MemoryStore``) and says so in the log, rather than refusing every
login of the consortium. A short socket timeout and a circuit breaker (``idp.directory.breaker``) keep a
hung Redis from slowing logins down: after one failure the process counts on its own at once
until a background ping gets an answer.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import redis

from idp.directory.breaker import CircuitBreaker
from idp.identity.throttle_store import MemoryStore
from idp.settings import ThrottleSchedule

log = logging.getLogger(__name__)
TIMEOUT_S = 0.25  # Redis answers in a millisecond; longer is a hung server
WARN_EVERY_S = 60.0

# KEYS[1]: the counter. ARGV: amount, now, unless_blocked, free, base, max, forget.
# The same arithmetic as MemoryStore.add, delay_after and next_block (``throttle_store``; a
# contract test holds both).
_ADD = """
local c = redis.call('HMGET', KEYS[1], 'level', 'at', 'until')
local level, at, blocked = tonumber(c[1]) or 0, tonumber(c[2]) or 0, tonumber(c[3]) or 0
local amount, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] == '1' and now < blocked then
  return {0, tostring(blocked)}
end
local free, base, maxd, forget =
  tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
level = math.max(0, math.max(0, level - math.max(0, now - at) / forget) + amount)
local n = math.ceil(level - 1e-9)
local delay = 0
if n >= free then delay = math.min(maxd, base * 2 ^ math.min(n - free, 64)) end
if amount > 0 then
  if delay > 0 then blocked = math.max(blocked, now + delay) end
else
  blocked = math.min(blocked, now + delay)
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now), 'until', tostring(blocked))
redis.call('EXPIRE', KEYS[1], math.ceil(math.max(blocked - now, level * forget)) + 1)
return {1, tostring(blocked)}
"""


class RedisStore:
    """``ThrottleStore`` in Redis, falling back to a ``MemoryStore`` while Redis is down."""

    def __init__(self, url: str, client: Any = None) -> None:
        self.client = client or redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S, decode_responses=True
        )
        self._add = self.client.register_script(_ADD)
        self._fallback = MemoryStore()
        self._warned_at = -WARN_EVERY_S
        self.breaker = CircuitBreaker("login throttle: Redis", self, RedisStore._ping)

    def blocked_until(self, key: str, now: float) -> float:
        if self.breaker.is_open:
            return self._fallback.blocked_until(key, now)
        try:
            value = cast("str | None", self.client.hget(key, "until"))
        except redis.RedisError as exc:
            self._warn(exc)
            return self._fallback.blocked_until(key, now)
        return float(value) if value else 0.0

    def add(self, key: str, amount: int, now: float, schedule: ThrottleSchedule, *,
            unless_blocked: bool = False) -> tuple[bool, float]:
        args: list[str | int | float] = [amount, repr(now), int(unless_blocked), schedule.free_failures,
                schedule.base_delay_s, schedule.max_delay_s, schedule.forget_s]
        if self.breaker.is_open:
            return self._fallback.add(key, amount, now, schedule, unless_blocked=unless_blocked)
        try:
            changed, until = self._add(keys=[key], args=args)
        except redis.RedisError as exc:
            self._warn(exc)
            return self._fallback.add(key, amount, now, schedule, unless_blocked=unless_blocked)
        return bool(changed), float(until)

    def clear(self, key: str) -> None:
        if not self.breaker.is_open:
            try:
                self.client.delete(key)
            except redis.RedisError as exc:
                self._warn(exc)
        self._fallback.clear(key)

    def _ping(self) -> None:
        self.client.ping()

    def _warn(self, exc: redis.RedisError) -> None:
        self.breaker.trip(str(exc))
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("login throttle: Redis does not answer (%s); counting in this process "
                        "only until it does", exc)
