"""/metrics as Prometheus scrapes it: a bearer token or nothing, and the counts an operator
watches move with what people do (a login, a wrong password, a token, the directory's round
trips, the answers by endpoint, the delivery queue, the database pool)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage.base import make_engine
from idp.storage.migrate import upgrade
from tests.flows.conftest import RP1, SERVICE, SERVICE_JWT, make_settings
from tests.support.oidc_client import login, sign_in
from tests.support.tokens import client_credentials

TOKEN = "metrics-token-0123456789abcdef0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def built() -> Iterator[list[Flask]]:
    apps: list[Flask] = []
    yield apps
    for app in apps:
        app.extensions["campus_id"].deliveries.wait_idle(10)
        app.extensions["campus_id"].engine.dispose()


def build(built: list[Flask], database_url: str, servers: dict[str, SlapdServer],
          **metrics: Any) -> Flask:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    app = create_app(make_settings(database_url, servers, metrics=metrics))
    built.append(app)
    return app


def scrape(app: Flask) -> Samples:
    response = app.test_client().get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    assert response.headers["Cache-Control"] == "no-store"
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_ask_for_the_bearer_token(built: list[Flask], database_url: str,
                                          directories: dict[str, SlapdServer]) -> None:
    client = build(built, database_url, directories, enabled=True, token=TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert "idp_" not in refused.get_data(as_text=True)
    assert client.get("/metrics", headers=BEARER).status_code == 200


@pytest.mark.parametrize("metrics", [{}, {"enabled": True, "listen": "127.0.0.1:9464"}])
def test_no_metrics_on_the_providers_port_without_a_token(
        built: list[Flask], database_url: str, directories: dict[str, SlapdServer],
        metrics: dict[str, Any]) -> None:
    """Disabled, or served only on a separate address: /metrics is not found here."""
    client = build(built, database_url, directories, **metrics).test_client()
    assert client.get("/metrics", headers=BEARER).status_code == 404


def test_a_login_a_refusal_and_a_token_are_counted(built: list[Flask], database_url: str,
                                                   directories: dict[str, SlapdServer]) -> None:
    app = build(built, database_url, directories, enabled=True, token=TOKEN)
    before = scrape(app)
    browser = app.test_client()
    refused = login(browser, browser.get("/authorize", query_string=RP1.params()),
                    "demo", "not-the-password", "tpu")
    assert refused.status_code == 401  # the form again, saying so
    code = sign_in(browser, RP1, "demo", "demo", "tpu")["code"]
    assert RP1.token(browser, code).status_code == 200
    for service in (SERVICE, SERVICE_JWT):  # stored, and self-contained (never stored)
        assert client_credentials(browser, service).status_code == 200
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("idp_logins_total", organization="tpu", outcome="succeeded") == 1
    assert moved("idp_logins_total", organization="tpu", outcome="invalid_credentials") == 1
    assert moved("idp_tokens_issued_total", grant_type="authorization_code", client_id="rp1") == 1
    for service in (SERVICE, SERVICE_JWT):
        assert moved("idp_tokens_issued_total", grant_type="client_credentials",
                     client_id=service[0]) == 1
    uri = directories["tpu"].uri
    assert moved("idp_directory_operation_seconds_count", organization="tpu", uri=uri,
                 operation="search") == 2
    assert moved("idp_directory_operation_seconds_count", organization="tpu", uri=uri,
                 operation="bind") == 2  # the wrong password is a real bind too
    assert moved("idp_http_requests_total", endpoint="oidc.token", status="200") == 3
    assert moved("idp_http_request_seconds_count", endpoint="oidc.token") == 3
    assert moved("idp_http_requests_total", endpoint="login.login_submit", status="302") >= 1
    assert value(after, "idp_delivery_queue_up") == 1
    assert value(after, "idp_db_pool_capacity") >= 1
    assert value(after, "idp_db_connections_open") >= 1


def test_unknown_paths_are_one_endpoint(built: list[Flask], database_url: str,
                                        directories: dict[str, SlapdServer]) -> None:
    """A path nobody routes counts as endpoint "none", whatever it was: callers cannot grow
    the label set."""
    app = build(built, database_url, directories, enabled=True, token=TOKEN)
    before = scrape(app)
    for path in ("/nope-1", "/nope-2/deeper", "/%E2%9C%93"):
        assert app.test_client().get(path).status_code == 404
    after = scrape(app)
    assert value(after, "idp_http_requests_total", endpoint="none", status="404") - value(
        before, "idp_http_requests_total", endpoint="none", status="404") == 3
    assert not any("nope" in str(labels) for _, labels in after)


def test_throttled_attempts_are_counted(built: list[Flask], database_url: str,
                                        directories: dict[str, SlapdServer]) -> None:
    """Past the account's free failures (5 by default) the throttle answers without asking
    the directory: a throttled login, not a sixth refusal."""
    app = build(built, database_url, directories, enabled=True, token=TOKEN)
    before = scrape(app)
    browser = app.test_client()
    for _ in range(6):
        page = browser.get("/authorize", query_string=RP1.params())
        assert login(browser, page, "asmirnova", "wrong-password", "tpu").status_code in (401, 429)
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("idp_logins_total", organization="tpu", outcome="invalid_credentials") == 5
    assert moved("idp_logins_total", organization="tpu", outcome="throttled") == 1
    assert moved("idp_login_throttled_total", organization="tpu", scope="account") == 1
