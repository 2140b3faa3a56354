"""A refresh answers alike however it is sent: a confidential client's usual request with HTTP
Basic (answered past Authlib's request handling, ``idp.oidc.refresh_requests``) and the same
request with the secret in the form, a narrowed scope or anything unusual (Authlib's whole
path), reuse detection included."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.oidc import refresh_requests
from tests.flows.conftest import PORTAL, RP1, SPA
from tests.support.oidc_client import RelyingParty, sign_in
from tests.support.tokens import refresh

OFFLINE = "openid profile email offline_access"


def offline_tokens(browser: FlaskClient, rp: RelyingParty = RP1) -> dict[str, Any]:
    result = sign_in(browser, rp, "demo@tpu.ru", "demo", scope=OFFLINE)
    body: dict[str, Any] = rp.token(browser, result["code"]).json
    return body


def shape(response: TestResponse) -> tuple[int, list[str], dict[str, Any]]:
    """Status, header names and the body with the new tokens' values left out."""
    body = dict(response.json or {})
    for name in ("access_token", "refresh_token"):
        if name in body:
            body[name] = bool(body[name])
    names = sorted(name for name in response.headers.keys() if name != "X-Request-ID")
    return response.status_code, names, body


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the narrow path answered each token request, in order."""
    answered: list[bool] = []
    issue = refresh_requests.issue

    def spy(*args: Any, **kwargs: Any) -> Any:
        response = issue(*args, **kwargs)
        answered.append(response is not None)
        return response

    monkeypatch.setattr(refresh_requests, "issue", spy)
    return answered


def test_basic_and_form_secrets_answer_alike(app: Flask, browser: FlaskClient,
                                            narrow: list[bool]) -> None:
    first = offline_tokens(browser)
    narrow.clear()
    rp = app.test_client()  # the relying party's server: no cookie of the person's browser
    basic = refresh(rp, (RP1.client_id, RP1.secret), first["refresh_token"])
    form = refresh(rp, (RP1.client_id, RP1.secret), basic.json["refresh_token"], method="post")
    assert narrow == [True]  # the form's secret never offered to the narrow path (idp.web.lanes)
    assert shape(basic) == shape(form) and basic.status_code == 200
    assert basic.json["scope"] == form.json["scope"]
    again = refresh(rp, (RP1.client_id, RP1.secret), form.json["refresh_token"])
    assert again.status_code == 200 and narrow[-1] is True


def test_unusual_or_refused_requests_go_through_authlib(browser: FlaskClient,
                                                        narrow: list[bool]) -> None:
    tokens = offline_tokens(browser)
    start = len(narrow)
    narrowed = refresh(browser, (RP1.client_id, RP1.secret), tokens["refresh_token"],
                       scope="openid profile")
    assert narrowed.status_code == 200 and narrowed.json["scope"] == "openid profile"
    current = narrowed.json["refresh_token"]
    stolen = refresh(browser, (PORTAL.client_id, PORTAL.secret), current)
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    wrong = refresh(browser, (RP1.client_id, "wrong-secret-0123456789"), current)
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"
    spa = offline_tokens(browser, SPA)
    public = refresh(browser, (SPA.client_id, None), spa["refresh_token"])
    assert public.status_code == 200
    assert True not in narrow[start:]
    # The spent one again: Authlib's path says why, and the family is revoked.
    start = len(narrow)
    reuse = refresh(browser, (RP1.client_id, RP1.secret), tokens["refresh_token"])
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    assert narrow[start:] == [False]
    after = refresh(browser, (RP1.client_id, RP1.secret), current)
    assert after.status_code == 400 and after.json["error"] == "invalid_grant"
