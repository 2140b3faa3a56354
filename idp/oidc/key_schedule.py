"""When each signing key signs and when it may stop being published: pure, clock passed in.

A key is published from its creation. Of an algorithm's keys whose ``activates_at`` has
passed, the latest signs (``active``); one not yet active is ``pending``. A key replaced by a
newer active one (``previous``) stays published until every token it signed has expired: its
successor's activation plus ``retention`` (the longest token lifetime and a margin). After
that it is ``retired``, whether or not the database has recorded it yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise


class KeyState(StrEnum):
    PENDING = "pending"  # published, not signing yet
    ACTIVE = "active"  # signs its algorithm's tokens
    PREVIOUS = "previous"  # replaced; published until the tokens it signed have expired
    RETIRED = "retired"  # no longer published


@dataclass(frozen=True)
class KeyTimes:
    kid: str
    alg: str
    activates_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True)
class ScheduledKey:
    kid: str
    alg: str
    state: KeyState
    activates_at: datetime
    retire_after: datetime | None = None  # set once a newer key has replaced it

    @property
    def published(self) -> bool:
        return self.state is not KeyState.RETIRED


def schedule(keys: Iterable[KeyTimes], now: datetime, retention: timedelta) -> list[ScheduledKey]:
    """The state of every key at ``now``, in the order given per algorithm by activation."""
    by_alg: dict[str, list[KeyTimes]] = {}
    for key in keys:
        by_alg.setdefault(key.alg, []).append(key)
    result: list[ScheduledKey] = []
    for alg_keys in by_alg.values():
        result.extend(_schedule_alg(alg_keys, now, retention))
    return result


def _schedule_alg(keys: list[KeyTimes], now: datetime,
                  retention: timedelta) -> list[ScheduledKey]:
    ordered = sorted(keys, key=lambda k: k.activates_at)  # stable: creation order breaks ties
    live = [k for k in ordered if k.retired_at is None]
    started = [k for k in live if k.activates_at <= now]
    result = [ScheduledKey(k.kid, k.alg, KeyState.RETIRED, k.activates_at, k.retired_at)
              for k in ordered if k.retired_at is not None]
    for key, successor in pairwise(started):
        retire_after = successor.activates_at + retention
        state = KeyState.PREVIOUS if now < retire_after else KeyState.RETIRED
        result.append(ScheduledKey(key.kid, key.alg, state, key.activates_at, retire_after))
    if started:
        last = started[-1]
        result.append(ScheduledKey(last.kid, last.alg, KeyState.ACTIVE, last.activates_at))
    result.extend(ScheduledKey(k.kid, k.alg, KeyState.PENDING, k.activates_at)
                  for k in live if k.activates_at > now)
    return result


def next_change(keys: Iterable[ScheduledKey], now: datetime) -> datetime | None:
    """The next moment a state changes by the clock alone (an activation or a retirement)."""
    moments = [k.activates_at for k in keys if k.state is KeyState.PENDING]
    moments += [k.retire_after for k in keys
                if k.state is KeyState.PREVIOUS and k.retire_after is not None]
    future = [m for m in moments if m > now]
    return min(future) if future else None
