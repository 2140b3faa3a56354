"""Introspection answers alike however the request is sent: the usual one with HTTP Basic
(answered past Authlib's request handling, ``idp.oidc.basic_introspection``) and the same
request with the secret in the form or sent unusually (Authlib's whole path)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.oidc import basic_introspection
from tests.flows.conftest import RP1, RP2, SERVICE
from tests.support.oidc_client import sign_in
from tests.support.tokens import client_credentials, introspect

OFFLINE = "openid profile offline_access"
VOLATILE = {"Set-Cookie", "X-Request-ID"}


def tokens_of(browser: FlaskClient) -> dict[str, Any]:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo", scope=OFFLINE)
    body: dict[str, Any] = RP1.token(browser, result["code"]).json
    return body


def seen(response: TestResponse) -> tuple[int, bytes, list[tuple[str, str]]]:
    """All but what differs on every response: the request's id and the browser's own session
    cookie (signed again with the time)."""
    headers = [(name, value if name not in VOLATILE else "")
               for name, value in response.headers.items()]
    return response.status_code, response.get_data(), sorted(headers)


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token", "something_else"])
def test_basic_and_form_secrets_answer_the_same_bytes(app: Flask, browser: FlaskClient,
                                                      hint: str | None) -> None:
    tokens = tokens_of(browser)
    service_token = client_credentials(browser, SERVICE).json["access_token"]
    resource_server = app.test_client()  # no cookie of the person's browser
    for token in (tokens["access_token"], tokens["refresh_token"], service_token, "no-such-token"):
        basic = introspect(resource_server, (RP1.client_id, RP1.secret), token, hint=hint)
        form = introspect(resource_server, (RP1.client_id, RP1.secret), token, hint=hint,
                          method="post")
        assert seen(basic) == seen(form)
        other = introspect(browser, (RP2.client_id, RP2.secret), token, hint=hint)
        assert other.json == {"active": False}


def test_the_usual_request_is_answered_past_authlib(app: Flask, browser: FlaskClient,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = tokens_of(browser)
    answered: list[bool] = []
    answer = basic_introspection.answer

    def spy(server: Any, request: Any) -> Any:
        response = answer(server, request)
        answered.append(response is not None)
        return response

    monkeypatch.setattr(basic_introspection, "answer", spy)
    usual = introspect(browser, (RP1.client_id, RP1.secret), tokens["access_token"])
    assert usual.json["active"] is True and answered == [True]
    unusual = [
        browser.post("/introspect?x=1", data={"token": tokens["access_token"]},
                     auth=(RP1.client_id, RP1.secret)),
        browser.post("/introspect", data={"token": tokens["access_token"], "extra": "1"},
                     auth=(RP1.client_id, RP1.secret)),
        browser.post("/introspect", data={"token": [tokens["access_token"], "other"]},
                     auth=(RP1.client_id, RP1.secret)),
        introspect(browser, (RP1.client_id, "wrong-secret-0123456789"), tokens["access_token"]),
        browser.post("/introspect", data={"token": ""}, auth=(RP1.client_id, RP1.secret)),
    ]
    assert answered[0] is True and True not in answered[1:]  # a query: never offered to it
    assert [r.status_code for r in unusual] == [200, 200, 200, 401, 400]
    assert unusual[0].json["active"] is True and unusual[1].json["active"] is True
    assert unusual[3].json["error"] == "invalid_client" and "WWW-Authenticate" in unusual[3].headers
    assert unusual[4].json["error"] == "invalid_request"
