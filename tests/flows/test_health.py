"""/healthz and /readyz as a load balancer meets them: every part listed with its status, 503
only when a required part is down, and nothing secret in the answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from demo import people
from demo.slapd import SlapdServer, free_port
from idp.app import create_app
from idp.storage.base import make_engine
from idp.storage.migrate import downgrade, upgrade
from tests.flows.conftest import make_settings

NO_CACHE = {"cache_s": 0}
REDIS_PASSWORD = "redis-secret-password-4711"
ORGS = ("directory:tpu", "directory:tsu", "directory:tusur")


@pytest.fixture
def own_tpu() -> Iterator[SlapdServer]:
    """tpu's directory of this test alone, so that the test may stop it."""
    server = people.organization("tpu").server().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def built() -> Iterator[list[Flask]]:
    """The apps a test built, their database connections closed at its end."""
    apps: list[Flask] = []
    yield apps
    for app in apps:
        app.extensions["campus_id"].engine.dispose()


def build(built: list[Flask], database_url: str, servers: dict[str, SlapdServer],
          **overrides: Any) -> Flask:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    overrides["health"] = {**NO_CACHE, **overrides.get("health", {})}
    app = create_app(make_settings(database_url, servers, **overrides))
    built.append(app)
    return app


def readyz(app: Flask) -> tuple[int, dict[str, Any], str]:
    response = app.test_client().get("/readyz")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    return response.status_code, response.get_json(), response.get_data(as_text=True)


def test_healthz_answers_without_a_session(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_readyz_lists_every_part_ready(built: list[Flask], database_url: str,
                                       directories: dict[str, SlapdServer]) -> None:
    app = build(built, database_url, directories)
    status, body, _ = readyz(app)
    assert status == 200
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", *ORGS}
    for name, check in body["checks"].items():
        assert check["ok"] is True, (name, check)
        assert check["latency_ms"] >= 0
    assert body["checks"]["database"]["required"] is True
    assert body["checks"]["directory:tpu"]["required"] is False


def test_database_behind_the_migrations_is_not_ready(built: list[Flask], database_url: str,
                                                     directories: dict[str, SlapdServer]) -> None:
    app = build(built, database_url, directories)
    engine = make_engine(database_url)
    try:
        downgrade(engine, "-1")
        status, body, _ = readyz(app)
        assert status == 503
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["migrations"]["ok"] is False
        assert "idp db upgrade" in body["checks"]["migrations"]["detail"]
        upgrade(engine)
        assert readyz(app)[0] == 200
    finally:
        engine.dispose()


def test_a_stopped_directory_is_listed_but_not_required(
        built: list[Flask], database_url: str, directories: dict[str, SlapdServer],
        own_tpu: SlapdServer) -> None:
    servers = {**directories, "tpu": own_tpu}
    optional = build(built, database_url, servers)
    required = build(built, database_url, servers, health={
        "required": ["database", "migrations", "directory:tpu"]})
    assert readyz(optional)[0] == 200 and readyz(required)[0] == 200
    own_tpu.stop()
    status, body, _ = readyz(optional)
    assert status == 200
    assert body["checks"]["directory:tpu"]["ok"] is False
    assert body["checks"]["directory:tsu"]["ok"] is True
    status, body, _ = readyz(required)
    assert status == 503
    assert body["status"] == "not_ready"
    assert body["checks"]["directory:tpu"] == {**body["checks"]["directory:tpu"],
                                               "ok": False, "required": True}


def test_a_hung_directory_costs_the_deadline_and_is_not_required(
        built: list[Flask], database_url: str, directories: dict[str, SlapdServer]) -> None:
    with socket.socket() as hung:  # accepts connections (the backlog), never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        uri = f"ldap://127.0.0.1:{hung.getsockname()[1]}"
        app = build(built, database_url, directories, health={"timeout_s": 0.3},
                    organizations={"tpu": people.organization("tpu").config([uri])})
        status, body, text = readyz(app)
    assert status == 200
    assert body["checks"]["directory:tpu"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert uri not in text


def test_redis_that_does_not_answer_is_not_ready(built: list[Flask], database_url: str,
                                                 directories: dict[str, SlapdServer]) -> None:
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"
    app = build(built, database_url, directories, throttle={"redis_url": url})
    status, body, text = readyz(app)
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["required"] is True
    assert REDIS_PASSWORD not in text and "127.0.0.1" not in text


def test_redis_that_answers_is_ready(built: list[Flask], database_url: str,
                                     directories: dict[str, SlapdServer]) -> None:
    app = build(built, database_url, directories, throttle={"redis_url": "redis://127.0.0.1:6379/0"})
    status, body, _ = readyz(app)
    assert status == 200, body
    assert body["checks"]["redis"]["ok"] is True


def test_no_secret_or_address_in_the_answer(
        built: list[Flask], database_url: str, directories: dict[str, SlapdServer],
        own_tpu: SlapdServer) -> None:
    servers = {**directories, "tpu": own_tpu}
    app = build(built, database_url, servers)
    own_tpu.stop()
    _, _, text = readyz(app)
    for org_id in ("tpu", "tsu", "tusur"):
        assert people.organization(org_id).service_password not in text
    assert database_url not in text
    assert own_tpu.uri not in text and "127.0.0.1" not in text
