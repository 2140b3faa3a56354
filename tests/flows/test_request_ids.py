"""Every request has an id (docs/operations.md, "Logs"): the X-Request-ID a proxy sent when it
is sane, else a new one; the response sends it back, every log line written while handling the
request carries it, and so does each audit event, where the helpdesk API shows it."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from demo.slapd import SlapdServer
from idp import logs
from idp.settings.model import LogFormat, LoggingSettings, LogLevel
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.identities import Identity
from idp.web.access_log import AccessLogged
from tests.flows.conftest import RP1
from tests.flows.test_helpdesk_api import HELPDESK, call, provider, token_of
from tests.support.oidc_client import is_login_form, login

NEW_ID = re.compile(r"[0-9a-f]{32}")
USER, PASSWORD = "asmirnova@tpu.ru", "Passw0rd-asmirnova"


class Captured:
    """The provider's log output as JSON lines, at debug level (every line there is)."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.handler = logs.handler(LoggingSettings(LogFormat.JSON, LogLevel.DEBUG), self.out)

    def records(self) -> list[dict[str, Any]]:
        self.handler.flush()  # access lines wait for a batch (idp.logs)
        return [json.loads(line) for line in self.out.getvalue().splitlines()]

    def clear(self) -> None:
        self.out.seek(0)
        self.out.truncate()


@pytest.fixture
def captured() -> Iterator[Captured]:
    found = Captured()
    handler = found.handler
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield found
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def app(database_url: str, settings: Any, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    """The flows' provider with the helpdesk's clients (``settings`` migrates the database)."""
    made = provider(database_url, directories, rules=False)
    yield made
    made.extensions["campus_id"].deliveries.wait_idle(10)
    made.extensions["campus_id"].engine.dispose()


def log_in(browser: FlaskClient, **headers: str) -> Any:
    """Authorize at RP1 and post the login form; the response to the form post."""
    page = browser.get("/authorize", query_string=RP1.params(), headers=headers)
    return login(browser, page, USER, PASSWORD)


def login_events(app: Flask) -> list[AuditEvent]:
    with app.extensions["campus_id"].sessions() as db:
        return list(db.scalars(select(AuditEvent).where(
            AuditEvent.type == AuditEventType.LOGIN_SUCCEEDED.value).order_by(AuditEvent.id)))


def test_a_request_id_sent_is_echoed_logged_and_audited(app: Flask, captured: Captured) -> None:
    browser = app.test_client()
    browser.environ_base["HTTP_X_REQUEST_ID"] = "abc-123"  # every request of this browser
    posted = log_in(browser)
    assert posted.status_code == 302
    assert posted.headers["X-Request-ID"] == "abc-123"

    [event] = login_events(app)
    assert event.request_id == "abc-123"
    records = captured.records()
    assert any(r["logger"] == "idp.directory.ldap" and "asmirnova" in r["message"] for r in records)
    assert {r["request_id"] for r in records} == {"abc-123"}

    # Where staff read the trail: the helpdesk API (and `idp audit export`, the same JSON).
    api = app.test_client()
    token = token_of(api, HELPDESK)
    with app.extensions["campus_id"].sessions() as db:
        sub = db.get(Identity, event.identity_id).sub
    trail = call(api, "GET", f"/audit?sub={sub}", token)
    assert trail.headers["X-Request-ID"] != "abc-123"
    [shown] = [e for e in trail.json["items"] if e["type"] == "login.succeeded"]
    assert shown["request_id"] == "abc-123"


def test_without_a_header_each_request_gets_a_new_id(app: Flask) -> None:
    browser = app.test_client()
    first = browser.get("/.well-known/openid-configuration").headers["X-Request-ID"]
    second = browser.get("/.well-known/openid-configuration").headers["X-Request-ID"]
    assert NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second) and first != second

    posted = log_in(browser)
    made = posted.headers["X-Request-ID"]
    assert NEW_ID.fullmatch(made) and made not in (first, second)
    assert [e.request_id for e in login_events(app)] == [made]


@pytest.mark.parametrize("offered", ["abc\r\nINFO forged line", "a" * 10 * 1024,
                                     "abc 123; DROP", "\x1b[31mred"])
def test_an_unfit_header_is_replaced_by_a_new_id(app: Flask, captured: Captured, offered: str) -> None:
    browser = app.test_client()
    browser.environ_base["HTTP_X_REQUEST_ID"] = offered
    posted = log_in(browser)
    made = posted.headers["X-Request-ID"]
    assert NEW_ID.fullmatch(made)
    assert [e.request_id for e in login_events(app)] == [made]
    records = captured.records()
    assert records and all(NEW_ID.fullmatch(r["request_id"]) for r in records)
    text = captured.out.getvalue()
    assert "forged" not in text and "a" * 100 not in text and "DROP" not in text


def test_the_access_log_line_carries_the_id_and_no_query(app: Flask, captured: Captured) -> None:
    """``AccessLogged``, the access log written through logging (a server whose own access
    log cannot read the WSGI environ)."""
    app.wsgi_app = AccessLogged(app.wsgi_app)  # type: ignore[method-assign]
    browser = app.test_client()
    params = RP1.params()
    response = browser.get("/authorize", query_string=params, headers={"X-Request-ID": "abc-123"})
    assert is_login_form(response)
    body = response.get_data()
    response.close()
    [line] = [r for r in captured.records() if r["logger"] == "idp.access"]
    assert line["request_id"] == "abc-123" and line["path"] == "/authorize"
    assert (line["method"], line["status"], line["client"]) == ("GET", "200", "rp1")
    assert isinstance(line["duration_ms"], int) and line["bytes"] == len(body)
    assert params["state"] not in json.dumps(line) and "code_challenge" not in json.dumps(line)
