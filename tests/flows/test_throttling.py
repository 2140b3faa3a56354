"""Login throttling through the login form, on both databases and both throttle stores, with
the shipped thresholds: a lecture hall behind one NAT address gets in, guessing one account and
spraying many from one address get HTTP 429 with Retry-After, a clear message and an audit
event, and a throttled attempt never reaches the directory."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from demo import people
from demo.slapd import SlapdServer
from idp import context
from idp.app import create_app
from idp.directory.base import AuthResult, PasswordDirectory
from idp.settings import Settings, ThrottleSettings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from tests.flows.conftest import make_settings
from tests.support.hanging import hanging_proxy
from tests.support.oidc_client import CSRF, csrf_of
from tests.support.throttle import REDIS_URL, FakeClock, throttle_table

NAT = "203.0.113.7"
ELSEWHERE = "198.51.100.20"
DEFAULTS = ThrottleSettings()
HALL_SIZE = 500


class CountingDirectory:
    """Wraps a directory and counts the password checks that reach it."""

    def __init__(self, inner: PasswordDirectory) -> None:
        self.inner = inner
        self.organization = inner.organization
        self.calls = 0

    def authenticate(self, username: str, password: str) -> AuthResult:
        self.calls += 1
        return self.inner.authenticate(username, password)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def throttle_settings(request: pytest.FixtureRequest, settings: Settings,
                      directories: dict[str, SlapdServer]) -> Iterator[Settings]:
    with throttle_table(request.param) as table:
        yield make_settings(settings.database.url, directories, throttle=table)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def build(settings: Settings, clock: FakeClock) -> Flask:
    app = create_app(settings)
    app.extensions["campus_id"].throttle.clock = clock
    return app


@pytest.fixture
def throttled_app(throttle_settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    app = build(throttle_settings, clock)
    yield app
    app.extensions["campus_id"].engine.dispose()


def browser_at(app: Flask, ip: str) -> FlaskClient:
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = ip
    return browser


def attempt(browser: FlaskClient, username: str, password: str, organization: str = "tpu") -> TestResponse:
    """One post of the login form (its CSRF token from a first visit of the page)."""
    token = csrf_of(browser.get("/login"))
    return browser.post("/login", data={"csrf_token": token, "organization": organization,
                                        "username": username, "password": password})


def audit_events(app: Flask, kind: AuditEventType) -> list[audit.AuditEvent]:
    with app.app_context():
        return audit.events(context.db(), kind)


def count_binds(app: Flask, org: str = "tpu") -> CountingDirectory:
    directories = app.extensions["campus_id"].directories
    counting = CountingDirectory(directories[org])
    directories[org] = counting
    return counting


def assert_throttled(response: TestResponse, retry_after: int | None = None) -> None:
    assert response.status_code == 429
    if retry_after is not None:
        assert response.headers["Retry-After"] == str(retry_after)
    assert int(response.headers["Retry-After"]) >= 1
    html = response.get_data(as_text=True)
    assert "Слишком много неудачных попыток входа. Подождите" in html
    assert 'name="password"' in html  # the form is back, to try again after the wait


def test_guessing_one_account_gets_429_even_from_another_address_without_a_bind(
        throttled_app: Flask, clock: FakeClock) -> None:
    person = people.organization("tpu").person("asmirnova")
    guesser = browser_at(throttled_app, NAT)
    for i in range(DEFAULTS.account.free_failures):
        assert attempt(guesser, "asmirnova", f"guess-{i}").status_code == 401
    binds = count_binds(throttled_app)
    owner = browser_at(throttled_app, ELSEWHERE)
    response = attempt(owner, "asmirnova", person.password)
    assert_throttled(response, retry_after=2)
    assert "несколько секунд" in response.get_data(as_text=True)
    assert binds.calls == 0
    assert attempt(owner, "ASmirnova@tpu.ru", person.password).status_code == 429

    [event, *_] = audit_events(throttled_app, AuditEventType.LOGIN_THROTTLED)
    assert (event.actor, event.organization, event.ip) == ("asmirnova", "tpu", ELSEWHERE)
    assert event.details == {"scope": "account", "retry_after_s": 2}
    assert len(audit_events(throttled_app, AuditEventType.LOGIN_FAILED)) == 5

    # The right password is accepted once the delay has passed, not before.
    clock.advance(1)
    assert_throttled(attempt(owner, "asmirnova", person.password), retry_after=1)
    clock.advance(1)
    assert attempt(owner, "asmirnova", person.password).status_code == 302


def test_delays_grow_with_each_further_failure(throttled_app: Flask, clock: FakeClock) -> None:
    guesser = browser_at(throttled_app, NAT)
    for i in range(DEFAULTS.account.free_failures):
        attempt(guesser, "demo", f"guess-{i}")
    waits: list[int] = []
    while not waits or waits[-1] < DEFAULTS.account.max_delay_s:
        response = attempt(guesser, "demo", "too-soon")
        assert response.status_code == 429
        waits.append(int(response.headers["Retry-After"]))
        clock.advance(waits[-1])
        assert attempt(guesser, "demo", "when-allowed").status_code == 401
    # Waiting 512 s forgets most of a failure, so the steps slow down near the top.
    assert waits[:9] == [2, 4, 8, 16, 32, 64, 128, 256, 512] and waits[-1] == 900
    english = browser_at(throttled_app, ELSEWHERE)
    english.get("/login?lang=en")
    response = attempt(english, "demo", "still-guessing")
    minutes = -(-int(response.headers["Retry-After"]) // 60)
    assert minutes > 1
    expected = f"Please wait about {minutes} minutes and try again."
    assert expected in response.get_data(as_text=True)


def test_the_message_does_not_tell_whether_the_account_exists(throttled_app: Flask) -> None:
    pages = {}
    for username in ("epopova", "no.such.person"):
        browser = browser_at(throttled_app, NAT)
        for i in range(DEFAULTS.account.free_failures):
            assert attempt(browser, username, f"guess-{i}").status_code == 401
        response = attempt(browser, username, "one-more")
        assert_throttled(response, retry_after=2)
        html = response.get_data(as_text=True).replace(username, "USERNAME")
        pages[username] = CSRF.sub("", html)
    assert pages["epopova"] == pages["no.such.person"]


def test_spraying_many_accounts_from_one_address_gets_429_while_another_address_logs_in(
        throttled_app: Flask, clock: FakeClock) -> None:
    sprayer = browser_at(throttled_app, NAT)
    names = [p.username for p in people.organization("tpu").people]
    for i in range(DEFAULTS.address.free_failures):
        response = attempt(sprayer, names[i % len(names)] if i < len(names) else f"user{i}",
                           "Spring2025!")
        assert response.status_code == 401, i
    binds = count_binds(throttled_app)
    response = attempt(sprayer, "demo", "demo")  # even a right password, from that address
    assert_throttled(response, retry_after=1)
    assert binds.calls == 0
    [event] = audit_events(throttled_app, AuditEventType.LOGIN_THROTTLED)
    assert event.details["scope"] == "address" and event.ip == NAT
    assert attempt(browser_at(throttled_app, ELSEWHERE), "demo", "demo").status_code == 302
    clock.advance(1)
    assert attempt(sprayer, "demo", "demo").status_code == 302


def test_spraying_forty_accounts_from_one_address_is_slowed_within_a_few_dozen(
        throttled_app: Flask) -> None:
    """One wrong password for each of 40 accounts, as fast as the client can post: answered 429
    for the address after the first few dozen (all 40 went through to the directory)."""
    sprayer = browser_at(throttled_app, NAT)
    binds = count_binds(throttled_app)
    statuses = [attempt(sprayer, f"user{i:02d}", "Spring2025!").status_code for i in range(40)]
    first_refusal = statuses.index(429)
    assert first_refusal <= 30 and set(statuses[:first_refusal]) == {401}
    assert binds.calls == first_refusal  # the refused ones never reached the directory
    events = audit_events(throttled_app, AuditEventType.LOGIN_THROTTLED)
    assert events and {e.details["scope"] for e in events} == {"address"}
    assert attempt(browser_at(throttled_app, ELSEWHERE), "demo", "demo").status_code == 302


def test_a_directory_outage_does_not_count_against_the_person(
        throttled_app: Flask, directories: dict[str, SlapdServer]) -> None:
    browser = browser_at(throttled_app, NAT)
    directories["tpu"].stop()
    try:
        for _ in range(DEFAULTS.account.free_failures + 2):
            assert attempt(browser, "demo", "demo").status_code == 503
    finally:
        directories["tpu"].start()
    assert attempt(browser, "demo", "demo").status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(
        throttle_settings: Settings, directories: dict[str, SlapdServer], clock: FakeClock) -> None:
    table = {"key_prefix": throttle_settings.throttle.key_prefix,
             "redis_url": throttle_settings.throttle.redis_url,
             "address": {"free_failures": 3}}
    proxied = make_settings(throttle_settings.database.url, directories, throttle=table,
                            server={"trust_forwarded_headers": True})
    app = build(proxied, clock)
    try:
        proxy = browser_at(app, "10.0.0.2")  # every request comes through the proxy
        sprayer = {"X-Forwarded-For": NAT}
        for i in range(3):
            token = csrf_of(proxy.get("/login"))
            response = proxy.post("/login", headers=sprayer, data={
                "csrf_token": token, "organization": "tpu", "username": f"user{i}",
                "password": "Spring2025!"})
            assert response.status_code == 401
        token = csrf_of(proxy.get("/login"))
        form = {"csrf_token": token, "organization": "tpu", "username": "demo", "password": "demo"}
        assert proxy.post("/login", headers=sprayer, data=form).status_code == 429
        student = {"X-Forwarded-For": ELSEWHERE}
        assert proxy.post("/login", headers=student, data=form).status_code == 302
        [event] = audit_events(app, AuditEventType.LOGIN_THROTTLED)
        assert event.ip == NAT
    finally:
        app.extensions["campus_id"].engine.dispose()


@pytest.mark.redis
def test_redis_shares_the_counters_between_two_app_instances(
        settings: Settings, directories: dict[str, SlapdServer], clock: FakeClock) -> None:
    with throttle_table("redis") as table:
        shared = make_settings(settings.database.url, directories, throttle=table)
        first, second = build(shared, clock), build(shared, clock)
        try:
            for i in range(DEFAULTS.account.free_failures):
                assert attempt(browser_at(first, NAT), "omorozova", f"guess-{i}").status_code == 401
            person = people.organization("tpu").person("omorozova")
            assert_throttled(attempt(browser_at(second, ELSEWHERE), "omorozova", person.password))
        finally:
            for app in (first, second):
                app.extensions["campus_id"].engine.dispose()


@pytest.mark.redis
def test_a_hung_redis_slows_only_the_first_login_and_is_used_again_once_it_answers(
        settings: Settings, directories: dict[str, SlapdServer]) -> None:
    """Redis accepts connections and never answers: each login paid its socket timeout for
    every call (1.5 s a login). Now the first call trips a breaker, the process counts on its
    own at once, and a background ping brings Redis back when it answers."""
    stall_s = 1.5
    redis_address = urlsplit(REDIS_URL)
    with (hanging_proxy((redis_address.hostname or "", redis_address.port or 6379)) as hung,
          throttle_table("memory") as table):
        table["redis_url"] = f"redis://127.0.0.1:{hung.port}/0"
        app = create_app(make_settings(settings.database.url, directories, throttle=table))
        try:
            browser = browser_at(app, NAT)
            assert attempt(browser, "demo", "demo").status_code == 302
            for _ in range(5):
                started = time.monotonic()
                assert attempt(browser, "demo", "demo").status_code == 302
                assert time.monotonic() - started < stall_s / 3
            for i in range(DEFAULTS.account.free_failures):  # counted in the process meanwhile
                assert attempt(browser, "epopova", f"guess-{i}").status_code == 401
            assert_throttled(attempt(browser, "epopova", "one-more"))

            hung.answer()
            store = app.extensions["campus_id"].throttle.store
            assert store.breaker.wait_closed(10)
            assert attempt(browser, "asmirnova", "guess").status_code == 401
            shared = redis.Redis.from_url(REDIS_URL)
            assert list(shared.scan_iter(match=table["key_prefix"] + "*"))  # in Redis again
            shared.close()
        finally:
            app.extensions["campus_id"].engine.dispose()


# -- a lecture hall: 500 students behind one NAT address -------------------------------------
STUDENTS = tuple(
    people.Person(f"student{i:03d}", "Студент", "", f"Номер{i}", ("student", "member"))
    for i in range(HALL_SIZE)
)


@pytest.fixture(scope="module")
def lecture_hall() -> Iterator[SlapdServer]:
    """The tpu directory with 500 more students."""
    tpu = dataclasses.replace(people.organization("tpu"),
                              people=people.organization("tpu").people + STUDENTS)
    server = tpu.server().start()
    try:
        yield server
    finally:
        server.close()


def test_a_lecture_hall_of_500_logs_in_from_one_address(
        throttle_settings: Settings, directories: dict[str, SlapdServer],
        lecture_hall: SlapdServer, clock: FakeClock) -> None:
    """Within one minute (the clock does not move): 500 right passwords, every tenth after a
    typo, every 25th after two, and every 50th student someone who forgot the password and
    gives up after three tries: 110 failures from one address, and nobody waits."""
    hall: dict[str, Any] = {**directories, "tpu": lecture_hall}
    table = {k: v for k, v in dataclasses.asdict(throttle_settings.throttle).items()
             if k in ("key_prefix", "redis_url")}
    app = build(make_settings(throttle_settings.database.url, hall, throttle=table), clock)
    try:
        statuses = []
        for i, student in enumerate(STUDENTS):
            browser = browser_at(app, NAT)
            typos = 2 if i % 25 == 0 else 1 if i % 10 == 0 else 0
            for _ in range(typos):
                assert attempt(browser, student.username, "typo").status_code == 401
            if i % 50 == 25:
                for _ in range(3):
                    assert attempt(browser, f"forgetful{i}", "maybe-this").status_code == 401
            statuses.append(attempt(browser, student.username, student.password).status_code)
        assert statuses == [302] * HALL_SIZE
        assert len(audit_events(app, AuditEventType.LOGIN_SUCCEEDED)) == HALL_SIZE
        assert audit_events(app, AuditEventType.LOGIN_THROTTLED) == []
    finally:
        app.extensions["campus_id"].engine.dispose()
