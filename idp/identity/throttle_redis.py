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

# One counter's charge or forgiveness: the same arithmetic as MemoryStore.add, delay_after and
# next_block (``throttle_store``; a contract test holds both). Returns {changed, until}.
_ADD_FUNCTION = """
local function add(key, amount, now, unless_blocked, free, base, maxd, forget)
  local c = redis.call('HMGET', key, 'level', 'at', 'until')
  local level, at, blocked = tonumber(c[1]) or 0, tonumber(c[2]) or 0, tonumber(c[3]) or 0
  if unless_blocked and now < blocked then
    return {0, tostring(blocked)}
  end
  level = math.max(0, math.max(0, level - math.max(0, now - at) / forget) + amount)
  local n = math.ceil(level - 1e-9)
  local delay = 0
  if n >= free then delay = math.min(maxd, base * 2 ^ math.min(n - free, 64)) end
  if amount > 0 then
    if delay > 0 then blocked = math.max(blocked, now + delay) end
  else
    blocked = math.min(blocked, now + delay)
  end
  redis.call('HSET', key, 'level', tostring(level), 'at', tostring(now), 'until', tostring(blocked))
  redis.call('EXPIRE', key, math.ceil(math.max(blocked - now, level * forget)) + 1)
  return {1, tostring(blocked)}
end
local function schedule(from)
  return tonumber(ARGV[from]), tonumber(ARGV[from + 1]), tonumber(ARGV[from + 2]),
    tonumber(ARGV[from + 3])
end
"""

# KEYS[1]: the counter. ARGV: amount, now, unless_blocked, then the schedule (free, base, max,
# forget).
_ADD = _ADD_FUNCTION + """
return add(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1', schedule(4))
"""

# ThrottleStore.charge. KEYS: the account, then the address if any. ARGV: now, the account's
# schedule.
_CHARGE = _ADD_FUNCTION + """
local now = tonumber(ARGV[1])
if #KEYS > 1 then
  local held = tonumber(redis.call('HGET', KEYS[2], 'until')) or 0
  if held > now then return {'address', tostring(held)} end
end
local charged = add(KEYS[1], 1, now, true, schedule(2))
if charged[1] == 0 then return {'account', charged[2]} end
return {'', charged[2]}
"""

# ThrottleStore.settle. KEYS: the account, then the address and its gate if any. ARGV: now,
# the address's schedule, the gate's.
_SETTLE = _ADD_FUNCTION + """
redis.call('DEL', KEYS[1])
if #KEYS > 1 then
  local now = tonumber(ARGV[1])
  if add(KEYS[3], 1, now, true, schedule(6))[1] == 1 then
    add(KEYS[2], -1, now, false, schedule(2))
  end
end
return 1
"""


def _schedule_args(schedule: ThrottleSchedule) -> list[int | float]:
    return [schedule.free_failures, schedule.base_delay_s, schedule.max_delay_s, schedule.forget_s]


class RedisStore:
    """``ThrottleStore`` in Redis, falling back to a ``MemoryStore`` while Redis is down."""

    def __init__(self, url: str, client: Any = None) -> None:
        self.client = client or redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S, decode_responses=True
        )
        self._add = self.client.register_script(_ADD)
        self._charge = self.client.register_script(_CHARGE)
        self._settle = self.client.register_script(_SETTLE)
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
        args: list[str | int | float] = [amount, repr(now), int(unless_blocked),
                                         *_schedule_args(schedule)]
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

    def charge(self, account: str, address: str | None, now: float,
               schedule: ThrottleSchedule) -> tuple[str, float]:
        """One call to Redis (``throttle_store.charge_with`` would make two)."""
        if self.breaker.is_open:
            return self._fallback.charge(account, address, now, schedule)
        keys = [account] if address is None else [account, address]
        try:
            refused_by, until = self._charge(keys=keys, args=[repr(now), *_schedule_args(schedule)])
        except redis.RedisError as exc:
            self._warn(exc)
            return self._fallback.charge(account, address, now, schedule)
        return str(refused_by), float(until)

    def settle(self, account: str, address: str | None, gate: str, now: float,
               address_schedule: ThrottleSchedule, gate_schedule: ThrottleSchedule) -> None:
        """One call to Redis (``throttle_store.settle_with`` would make up to three)."""
        if self.breaker.is_open:
            self._fallback.settle(account, address, gate, now, address_schedule, gate_schedule)
            return
        keys = [account] if address is None else [account, address, gate]
        try:
            self._settle(keys=keys, args=[repr(now), *_schedule_args(address_schedule),
                                          *_schedule_args(gate_schedule)])
        except redis.RedisError as exc:
            self._warn(exc)
            self._fallback.settle(account, address, gate, now, address_schedule, gate_schedule)
            return
        self._fallback.clear(account)  # as ``clear`` does: a count made while Redis was away

    def _ping(self) -> None:
        self.client.ping()

    def _warn(self, exc: redis.RedisError) -> None:
        self.breaker.trip(str(exc))
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("login throttle: Redis does not answer (%s); counting in this process "
                        "only until it does", exc)
