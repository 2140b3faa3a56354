"""A database that stops answering while the provider runs (PostgreSQL): connections dropped,
then the database renamed away. Every endpoint answers 503 with Retry-After (a page for
people, ``temporarily_unavailable`` for clients, never a 500 or an error blaming the request),
the outage is audited when the database takes the event, and the provider recovers by itself
when the database is back."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.test import TestResponse

from demo.slapd import SlapdServer
from idp import context
from idp.app import create_app
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import make_engine
from idp.storage.migrate import upgrade
from idp.web import outage
from tests.conftest import POSTGRES_ADMIN_URL
from tests.flows.conftest import RP1, make_settings
from tests.support.oidc_client import csrf_of, follow, login

pytestmark = pytest.mark.postgres
PAGE_TEXT = "Campus ID временно недоступен"


class Database:
    """A database of this test's own that can be cut off and brought back."""

    def __init__(self) -> None:
        self.admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.name = f"campus_id_outage_{secrets.token_hex(4)}"
        self.url = make_url(POSTGRES_ADMIN_URL).set(database=self.name).render_as_string(
            hide_password=False)
        self._sql(f'CREATE DATABASE "{self.name}"')

    def _sql(self, statement: str, **params: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(statement), params)

    def drop_connections(self, name: str | None = None) -> None:
        self._sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n",
                  n=name or self.name)

    def rename_away(self) -> None:
        self.drop_connections()
        self._sql(f'ALTER DATABASE "{self.name}" RENAME TO "{self.name}_away"')

    def bring_back(self) -> None:
        self.drop_connections(f"{self.name}_away")
        self._sql(f'ALTER DATABASE "{self.name}_away" RENAME TO "{self.name}"')

    def close(self) -> None:
        for name in (self.name, f"{self.name}_away"):
            self.drop_connections(name)
            self._sql(f'DROP DATABASE IF EXISTS "{name}"')
        self.admin.dispose()


@pytest.fixture
def database() -> Iterator[Database]:
    found = Database()
    engine = make_engine(found.url)
    upgrade(engine)
    engine.dispose()
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def app(database: Database, directories: dict[str, SlapdServer],
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setattr(outage, "_last_audit", -outage.AUDIT_EVERY_S)
    app = create_app(make_settings(database.url, directories))
    yield app
    app.extensions["campus_id"].engine.dispose()


def signed_in(app: Flask) -> FlaskClient:
    browser = app.test_client()
    response = browser.get("/authorize", query_string=RP1.params())
    response = follow(browser, login(browser, response, "demo", "demo", "tpu"))
    assert response.status_code == 200  # the consent page
    return browser


def assert_outage_page(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert int(response.headers["Retry-After"]) > 0
    assert PAGE_TEXT in response.get_data(as_text=True)


def assert_outage_json(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"] == "temporarily_unavailable"


def token_request(browser: FlaskClient) -> TestResponse:
    return browser.post("/token", auth=(RP1.client_id, RP1.secret or ""), data={
        "grant_type": "authorization_code", "code": "no-such-code",
        "redirect_uri": RP1.redirect_uri, "code_verifier": RP1.verifier})


def test_a_database_gone_is_answered_503_and_recovered_from_without_a_restart(
        app: Flask, database: Database) -> None:
    browser = signed_in(app)
    stranger = app.test_client()
    login_form = {"csrf_token": csrf_of(stranger.get("/login")), "organization": "tpu",
                  "username": "asmirnova", "password": "wrong"}

    database.rename_away()
    try:
        assert_outage_page(browser.get("/authorize", query_string=RP1.params()))
        assert_outage_page(stranger.post("/login", data=login_form))
        assert_outage_json(token_request(browser))
    finally:
        database.bring_back()

    # Back without a restart: the same app serves the same people.
    response = browser.get("/authorize", query_string=RP1.params())
    assert response.status_code == 200 and "csrf_token" in response.get_data(as_text=True)
    assert stranger.post("/login", data=login_form).status_code == 401
    assert token_request(browser).get_json()["error"] == "invalid_grant"


def test_dropped_connections_are_answered_503_and_audited(app: Flask, database: Database) -> None:
    browser = signed_in(app)
    database.drop_connections()  # a restart of the server, say: the pooled connections die
    assert_outage_page(browser.get("/authorize", query_string=RP1.params()))
    assert browser.get("/authorize", query_string=RP1.params()).status_code == 200
    with app.app_context():
        [event] = audit.events(context.db(), AuditEventType.SERVICE_DATABASE_UNAVAILABLE)
    assert event.details["path"] == "/authorize"
    assert "terminat" in event.details["reason"]
