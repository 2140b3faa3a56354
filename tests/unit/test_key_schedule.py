"""Which signing key signs and which are only published, at every moment of a rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from idp.oidc.key_schedule import KeyState, KeyTimes, next_change, schedule

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
RETENTION = timedelta(minutes=70)
OLD = KeyTimes("es256-old", "ES256", T0 - 30 * 24 * HOUR)
NEW = KeyTimes("es256-new", "ES256", T0 + HOUR)  # rotated at T0, activation delay one hour
RSA = KeyTimes("rs256-only", "RS256", T0 - 24 * HOUR)


def states(now: datetime, *keys: KeyTimes) -> dict[str, KeyState]:
    return {k.kid: k.state for k in schedule(keys, now, RETENTION)}


def test_before_activation_the_old_key_signs_and_the_new_one_is_pending() -> None:
    assert states(T0, OLD, NEW, RSA) == {"es256-old": KeyState.ACTIVE,
                                         "es256-new": KeyState.PENDING,
                                         "rs256-only": KeyState.ACTIVE}


def test_from_activation_the_new_key_signs_and_the_old_one_stays_published() -> None:
    planned = {k.kid: k for k in schedule([OLD, NEW], T0 + HOUR, RETENTION)}
    assert planned["es256-new"].state is KeyState.ACTIVE
    assert planned["es256-old"].state is KeyState.PREVIOUS
    assert planned["es256-old"].published
    assert planned["es256-old"].retire_after == T0 + HOUR + RETENTION


def test_the_old_key_retires_once_its_last_tokens_have_expired() -> None:
    assert states(T0 + HOUR + RETENTION - timedelta(seconds=1), OLD, NEW)["es256-old"] is KeyState.PREVIOUS
    assert states(T0 + HOUR + RETENTION, OLD, NEW)["es256-old"] is KeyState.RETIRED


def test_a_key_retired_in_the_database_is_not_published_whatever_the_clock() -> None:
    retired = KeyTimes("es256-gone", "ES256", T0 - 60 * 24 * HOUR, retired_at=T0 - 20 * 24 * HOUR)
    planned = {k.kid: k for k in schedule([retired, OLD], T0, RETENTION)}
    assert not planned["es256-gone"].published
    assert planned["es256-old"].state is KeyState.ACTIVE


def test_next_change_is_the_activation_then_the_retirement() -> None:
    assert next_change(schedule([OLD, NEW, RSA], T0, RETENTION), T0) == T0 + HOUR
    after = T0 + HOUR
    assert next_change(schedule([OLD, NEW, RSA], after, RETENTION), after) == after + RETENTION
    done = after + RETENTION
    assert next_change(schedule([OLD, NEW, RSA], done, RETENTION), done) is None
