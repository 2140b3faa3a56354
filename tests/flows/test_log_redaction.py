"""No password, code or token in any log line (docs/operations.md, "Logs"): the whole log
output of real flows, at debug level and in both formats, is searched for every secret they
sent or received: a wrong and a right password, the authorization code and PKCE verifier, the
access, refresh and ID tokens, the client secrets and their HTTP Basic encoding, a refreshed
pair, a client credentials token."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from idp import logs
from idp.settings.model import LogFormat, LoggingSettings, LogLevel
from tests.flows.conftest import RP1, SERVICE
from tests.support.oidc_client import login, sign_in
from tests.support.tokens import client_credentials, introspect, refresh, revoke

USER, PASSWORD, WRONG = "asmirnova@tpu.ru", "Passw0rd-asmirnova", "Wr0ng-Passw0rd-guess"


@pytest.fixture
def output() -> Iterator[dict[LogFormat, io.StringIO]]:
    """What the root logger writes at debug level, as JSON and as text."""
    streams = {LogFormat.JSON: io.StringIO(), LogFormat.TEXT: io.StringIO()}
    handlers = [logs.handler(LoggingSettings(f, LogLevel.DEBUG), s) for f, s in streams.items()]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield streams
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(level)


def test_no_secret_of_a_login_and_token_exchange_is_logged(
        browser: FlaskClient, output: dict[LogFormat, io.StringIO]) -> None:
    page = browser.get("/authorize", query_string=RP1.params())
    assert login(browser, page, USER, WRONG).status_code == 401  # the form again, with an error
    result = sign_in(browser, RP1, USER, PASSWORD, scope="openid profile offline_access")
    tokens = RP1.token(browser, result["code"]).json
    assert tokens["access_token"] and tokens["id_token"] and tokens["refresh_token"]
    userinfo = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200
    secrets = [PASSWORD, WRONG, result["code"], RP1.verifier, tokens["access_token"],
               tokens["id_token"], str(RP1.secret), SERVICE[1],
               base64.b64encode(f"{RP1.client_id}:{RP1.secret}".encode()).decode()]
    refreshed = refresh(browser, (RP1.client_id, RP1.secret), tokens["refresh_token"]).json
    secrets += [tokens["refresh_token"], refreshed["access_token"], refreshed["refresh_token"]]
    service = client_credentials(browser, SERVICE, method="post").json["access_token"]
    assert introspect(browser, SERVICE, service).json["active"] is True
    assert revoke(browser, SERVICE, service).status_code == 200
    secrets.append(service)

    json_text, text = output[LogFormat.JSON].getvalue(), output[LogFormat.TEXT].getvalue()
    records = [json.loads(line) for line in json_text.splitlines()]  # one JSON object a line
    loggers = {r["logger"] for r in records}
    assert "idp.directory.ldap" in loggers  # the password checks were logged, at debug level
    assert any("[redacted]" in r["message"] for r in records)  # Authlib's "Issue token {...}"
    for secret in secrets:
        assert secret not in json_text and secret not in text, secret
