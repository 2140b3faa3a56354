"""For throttle tests: a clock that moves only when told, and throttle settings on their own
Redis key prefix (removed afterwards) so that runs never see each other's counters."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted at the end."""
    prefix = f"campus-id-test:{secrets.token_hex(8)}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@contextmanager
def throttle_table(backend: str, **extra: Any) -> Iterator[dict[str, Any]]:
    """The ``[throttle]`` table for ``backend`` ("memory" or "redis")."""
    with redis_prefix() as prefix:
        table: dict[str, Any] = {"key_prefix": prefix, **extra}
        if backend == "redis":
            table["redis_url"] = REDIS_URL
        yield table
