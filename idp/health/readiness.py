"""``/readyz``'s answer: every part checked at once, each in a thread of its own within one
deadline, so the answer takes about the slowest deadline; a part still waiting on an earlier
check is not checked again (a hung server never piles up threads). One answer is reused for
``cache_s``, so a load balancer probing every instance often costs little.

Ready means every *required* part is up (``[health] required``); the others are listed too.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine

from idp.directory.base import PasswordDirectory
from idp.health.checks import NotReady, database_revision, migrations_detail, redis_ping
from idp.health.directory import check_directory
from idp.identity.throttle_redis import RedisStore
from idp.settings import Settings
from idp.settings.health import DIRECTORY_PREFIX, required_parts
from idp.storage.migrate import head_revision

Check = Callable[[], str]


@dataclass(frozen=True)
class PartStatus:
    ok: bool
    latency_ms: float
    detail: str
    required: bool

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "latency_ms": round(self.latency_ms, 1), "detail": self.detail,
                "required": self.required}


@dataclass(frozen=True)
class Report:
    ready: bool
    parts: Mapping[str, PartStatus]

    def as_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not_ready",
                "checks": {name: part.as_json() for name, part in self.parts.items()}}


class _Run:
    """One check running in its thread: its outcome once it finished."""

    def __init__(self, check: Check) -> None:
        self.outcome: tuple[bool, str] | None = None
        self.started = time.monotonic()
        self.latency_ms = 0.0
        self.thread = threading.Thread(target=self._run, args=(check,), daemon=True,
                                       name="readiness check")

    def _run(self, check: Check) -> None:
        try:
            outcome = (True, check())
        except NotReady as down:
            outcome = (False, str(down))
        except Exception as error:  # a check's own bug must not hide the other parts
            outcome = (False, f"the check failed ({type(error).__name__})")
        self.latency_ms = (time.monotonic() - self.started) * 1000
        self.outcome = outcome


class Readiness:
    """The parts of one app instance and the last answer about them."""

    def __init__(self, checks: Mapping[str, Check], required: frozenset[str], *,
                 timeout_s: float, cache_s: float) -> None:
        self.checks, self.required = dict(checks), required
        self.timeout_s, self.cache_s = timeout_s, cache_s
        self._lock = threading.Lock()
        self._running: dict[str, _Run] = {}
        self._last: tuple[float, Report] | None = None

    def report(self) -> Report:
        with self._lock:  # callers arriving meanwhile take the answer this one makes
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self.cache_s:
                return self._last[1]
            report = self._check_all()
            self._last = (time.monotonic(), report)
            return report

    def _check_all(self) -> Report:
        runs: dict[str, _Run | None] = {}
        for name, check in self.checks.items():
            earlier = self._running.get(name)
            if earlier is not None and earlier.thread.is_alive():
                runs[name] = None
                continue
            run = self._running[name] = _Run(check)
            run.thread.start()
            runs[name] = run
        ends = time.monotonic() + self.timeout_s
        parts = {name: self._status(name, run, ends) for name, run in runs.items()}
        ready = all(part.ok for name, part in parts.items() if name in self.required)
        return Report(ready, parts)

    def _status(self, name: str, run: _Run | None, ends: float) -> PartStatus:
        required = name in self.required
        if run is None:
            return PartStatus(False, 0.0, "an earlier check has not finished yet", required)
        run.thread.join(max(0.0, ends - time.monotonic()))
        if run.outcome is None:
            waited = (time.monotonic() - run.started) * 1000
            return PartStatus(False, waited, f"no answer within {self.timeout_s:g} s", required)
        ok, detail = run.outcome
        return PartStatus(ok, run.latency_ms, detail, required)


def build_readiness(settings: Settings, engine: Engine,
                    directories: Mapping[str, PasswordDirectory], throttle_store: Any) -> Readiness:
    """The checks the settings call for: the database and its migrations (one query for
    both), Redis when the login throttle uses it, and each organization's directory."""
    health = settings.health
    head = head_revision()
    checks: dict[str, Check] = {
        "database": lambda: _answers(database_revision(engine)),
        "migrations": lambda: migrations_detail(database_revision(engine), head),
    }
    if settings.throttle.redis_url:
        checks["redis"] = _redis_check(settings.throttle.redis_url, throttle_store,
                                       health.timeout_s)
    for org_id, org in settings.organizations.items():
        directory, deadline = directories.get(org_id), health.timeout_s
        checks[DIRECTORY_PREFIX + org_id] = functools.partial(
            check_directory, org_id, org.directory, directory, deadline)
    return Readiness(checks, required_parts(health, settings.throttle),
                     timeout_s=health.timeout_s, cache_s=health.cache_s)


def _answers(_revision: str | None) -> str:
    return "answers"


def _redis_check(url: str, store: Any, timeout_s: float) -> Check:
    """The login throttle's own client and breaker when it has them, else a client of its own."""
    if isinstance(store, RedisStore):
        return lambda: redis_ping(store.client, store.breaker.is_open)
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    return lambda: redis_ping(client, False)
