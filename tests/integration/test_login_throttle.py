"""The login throttle and its two stores (in-process and Redis), through the same contract:
growing delays per account and per address, only failures counted, a lecture hall of 500
right passwords behind one address never slowed, parallel guesses held to the limit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis

from idp.identity.throttle import LoginThrottle, ThrottleScope, account_key, address_key
from idp.identity.throttle_redis import RedisStore
from idp.identity.throttle_store import MemoryStore, ThrottleStore, delay_after
from idp.settings import ThrottleSchedule, ThrottleSettings
from tests.support.throttle import REDIS_URL, FakeClock, redis_prefix

NAT = "203.0.113.7"
DEFAULTS = ThrottleSettings()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str) -> Iterator[ThrottleSettings]:
    with redis_prefix() as prefix:
        yield ThrottleSettings(redis_url=REDIS_URL if backend == "redis" else "", key_prefix=prefix)


def store_for(settings: ThrottleSettings) -> ThrottleStore:
    return RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def throttle(settings: ThrottleSettings, clock: FakeClock) -> LoginThrottle:
    return LoginThrottle(store_for(settings), settings, clock)


def fail(throttle: LoginThrottle, username: str, ip: str | None = NAT, org: str = "tpu") -> bool:
    """One attempt with a wrong password; False when the throttle refused it."""
    attempt = throttle.begin(org, username, ip)
    if attempt.allowed:
        throttle.failed(attempt)
    return attempt.allowed


def succeed(throttle: LoginThrottle, username: str, ip: str | None = NAT) -> bool:
    attempt = throttle.begin("tpu", username, ip)
    if attempt.allowed:
        throttle.succeeded(attempt)
    return attempt.allowed


def test_delays_double_after_the_free_failures_up_to_the_maximum() -> None:
    schedule = ThrottleSchedule(free_failures=5, base_delay_s=2, max_delay_s=60, forget_s=600)
    assert [delay_after(schedule, n) for n in range(11)] == [0, 0, 0, 0, 0, 2, 4, 8, 16, 32, 60]
    assert delay_after(schedule, 4.2) == 2  # a failure partly forgotten still counts
    assert delay_after(schedule, 10_000) == 60


def test_a_lecture_hall_of_500_right_passwords_from_one_address_all_get_in(
        throttle: LoginThrottle) -> None:
    assert all(succeed(throttle, f"student{i:03d}") for i in range(500))
    # ... also when every tenth student mistypes first.
    for i in range(500):
        if i % 10 == 0:
            assert fail(throttle, f"late{i:03d}")
        assert succeed(throttle, f"late{i:03d}")


def test_guessing_one_account_is_refused_after_five_failures_from_any_address(
        throttle: LoginThrottle, clock: FakeClock) -> None:
    assert all(fail(throttle, "demo", ip=f"198.51.100.{i}") for i in range(5))
    refused = throttle.begin("tpu", "demo", "192.0.2.99")
    assert not refused.allowed and refused.scope is ThrottleScope.ACCOUNT
    assert refused.retry_after_s == 2
    assert not succeed(throttle, "DEMO ")  # the same account, however typed
    assert succeed(throttle, "demo", ip=NAT) is False
    clock.advance(2)
    assert fail(throttle, "demo")  # the delay passed: one more try...
    assert throttle.begin("tpu", "demo", NAT).retry_after_s == 4  # ...and the next wait doubles
    assert succeed(throttle, "other")  # other accounts are not affected
    assert fail(throttle, "demo", org="tsu")  # nor the same username elsewhere


def test_a_right_password_starts_the_account_afresh(throttle: LoginThrottle,
                                                    clock: FakeClock) -> None:
    assert all(fail(throttle, "demo") for _ in range(4))
    assert succeed(throttle, "demo")
    assert all(fail(throttle, "demo") for _ in range(5))
    assert not fail(throttle, "demo")


def test_failures_are_forgotten_over_time(throttle: LoginThrottle, clock: FakeClock) -> None:
    assert all(fail(throttle, "demo") for _ in range(5))
    assert not fail(throttle, "demo")
    clock.advance(DEFAULTS.account.forget_s)  # one failure forgotten: one more try
    assert fail(throttle, "demo")
    clock.advance(6 * DEFAULTS.account.forget_s)
    assert all(fail(throttle, "demo") for _ in range(5))


def test_spraying_many_accounts_from_one_address_is_refused_while_others_log_in(
        throttle: LoginThrottle, clock: FakeClock) -> None:
    free = DEFAULTS.address.free_failures
    assert all(fail(throttle, f"victim{i}") for i in range(free))
    refused = throttle.begin("tpu", "victim-next", NAT)
    assert not refused.allowed and refused.scope is ThrottleScope.ADDRESS
    assert not succeed(throttle, "student001")  # a NAT waits as a whole...
    assert succeed(throttle, "student001", ip="198.51.100.1")  # ...others do not
    clock.advance(refused.retry_after_s)
    assert fail(throttle, "victim-next")
    assert throttle.begin("tpu", "x", NAT).retry_after_s == 2


def test_parallel_guesses_cannot_slip_past_the_limit(throttle: LoginThrottle) -> None:
    barrier = threading.Barrier(20)
    allowed: list[bool] = []

    def guess() -> None:
        barrier.wait()
        allowed.append(throttle.begin("tpu", "demo", NAT).allowed)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == DEFAULTS.account.free_failures


def test_an_unanswered_attempt_is_forgiven(throttle: LoginThrottle) -> None:
    for _ in range(10):
        attempt = throttle.begin("tpu", "demo", NAT)
        assert attempt.allowed
        throttle.abandoned(attempt)


def test_disabled_throttle_lets_everything_through(clock: FakeClock) -> None:
    throttle = LoginThrottle(MemoryStore(), ThrottleSettings(enabled=False), clock)
    assert all(fail(throttle, "demo") for _ in range(50))


@pytest.mark.redis
def test_redis_state_is_shared_between_processes(clock: FakeClock) -> None:
    with redis_prefix() as prefix:
        settings = ThrottleSettings(redis_url=REDIS_URL, key_prefix=prefix)
        first = LoginThrottle(RedisStore(REDIS_URL), settings, clock)
        second = LoginThrottle(RedisStore(REDIS_URL), settings, clock)
        assert all(fail(first, "demo") for _ in range(5))
        assert not second.begin("tpu", "demo", "192.0.2.1").allowed


class CountingRedis(redis.Redis):
    """A Redis client that counts the commands it sends (each one a round trip)."""

    sent: list[str]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]))
        return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


@pytest.mark.redis
def test_an_attempt_is_two_round_trips_to_redis(clock: FakeClock) -> None:
    """Its charge and its outcome, each one script: with Redis on another host, every round
    trip is a wait in every login."""
    with redis_prefix() as prefix:
        settings = ThrottleSettings(redis_url=REDIS_URL, key_prefix=prefix)
        client = cast(CountingRedis, CountingRedis.from_url(REDIS_URL, decode_responses=True))
        client.sent = []
        throttle = LoginThrottle(RedisStore(REDIS_URL, client=client), settings, clock)
        assert succeed(throttle, "warm-up") and fail(throttle, "warm-up")  # scripts loaded
        client.sent.clear()
        assert succeed(throttle, "demo")  # a right password: its address is forgiven one failure
        assert client.sent == ["EVALSHA", "EVALSHA"]
        client.sent.clear()
        assert fail(throttle, "demo")
        assert client.sent == ["EVALSHA", "EVALSHA"]
        assert all(fail(throttle, "demo") for _ in range(4)) and not fail(throttle, "demo")


def test_without_redis_each_process_counts_on_its_own(clock: FakeClock,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    settings = ThrottleSettings(redis_url="redis://127.0.0.1:1/0")
    throttle = LoginThrottle(RedisStore(settings.redis_url), settings, clock)
    with caplog.at_level(logging.WARNING):
        assert all(fail(throttle, "demo") for _ in range(5))
        assert not fail(throttle, "demo")
        assert succeed(throttle, "asmirnova") and not fail(throttle, "demo")  # still counted here
    assert sum("Redis does not answer" in r.getMessage() for r in caplog.records) == 1


def test_keys_fold_case_and_unicode_forms_and_group_ipv6_networks() -> None:
    assert account_key("tpu", " Ivanov") == account_key("tpu", "ivanov")
    assert account_key("tpu", "ｉｖａｎｏｖ") == account_key("tpu", "ivanov")  # fullwidth
    assert account_key("tpu", "ivanov") != account_key("tsu", "ivanov")
    assert "ivanov" not in account_key("tpu", "ivanov")
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:203.0.113.7") == address_key("203.0.113.7") == "addr:203.0.113.7"
    assert address_key(None) is None


def test_an_attempt_that_read_the_clock_a_moment_earlier_is_not_refused(
        throttle: LoginThrottle, clock: FakeClock) -> None:
    """Two right passwords typed at once: the one that read the clock first may reach the store
    second. A charge without any delay must not block it (it did: the block moved to "now")."""
    later = LoginThrottle(throttle.store, throttle.settings, lambda: clock.now + 0.001)
    first = later.begin("tpu", "demo", NAT)
    second = throttle.begin("tpu", "demo", NAT)
    assert first.allowed and second.allowed, second
    throttle.succeeded(second)
    later.succeeded(first)


def test_spraying_forty_accounts_from_one_address_is_slowed_within_a_few_dozen(
        throttle: LoginThrottle) -> None:
    """One wrong password for each of 40 accounts, as fast as a client can: refused (for the
    address) after the first few dozen (it went through: 100 failures were free)."""
    allowed = [fail(throttle, f"victim{i:02d}") for i in range(40)]
    assert allowed.index(False) <= 30
    refused = throttle.begin("tpu", "victim40", NAT)
    assert not refused.allowed and refused.scope is ThrottleScope.ADDRESS


def test_a_lecture_hall_with_typos_and_forgotten_passwords_is_never_slowed(
        throttle: LoginThrottle) -> None:
    """500 right passwords within one minute from one address, among them the usual mistakes:
    every tenth student mistypes once, every 25th twice, and every 50th is someone who forgot
    the password and gives up after three tries. Right passwords pay for the typos."""
    for i in range(500):
        typos = 2 if i % 25 == 0 else 1 if i % 10 == 0 else 0
        assert all(fail(throttle, f"student{i:03d}") for _ in range(typos)), i
        if i % 50 == 25:
            assert all(fail(throttle, f"forgetful{i:03d}") for _ in range(3)), i
        assert succeed(throttle, f"student{i:03d}"), i


def test_ones_own_account_cannot_pay_for_a_spray(throttle: LoginThrottle) -> None:
    """A right password forgives a failure of its address once per account a while: logging
    into one's own account between guesses does not keep a spray going."""
    allowed = []
    for i in range(60):
        succeed(throttle, "attacker")
        allowed.append(fail(throttle, f"victim{i:02d}"))
    assert allowed.index(False) <= 30
