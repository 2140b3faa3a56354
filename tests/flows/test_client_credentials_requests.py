"""The token endpoint answers a service's client credentials request alike however it is sent:
HTTP Basic or the form, usual or unusual, right or wrong (idp.oidc.service_tokens answers the
usual one itself, before Flask, ``idp.web.lanes``; Authlib the rest)."""

from __future__ import annotations

import base64

import pytest
from flask.testing import FlaskClient

from tests.flows.conftest import SERVICE, SERVICE_JWT
from tests.support.tokens import client_credentials, introspect

BASIC = {"Authorization": "Basic " + base64.b64encode(f"{SERVICE[0]}:{SERVICE[1]}".encode()).decode()}


@pytest.mark.parametrize("service", [SERVICE, SERVICE_JWT])
def test_basic_and_form_secrets_get_the_same_answer(browser: FlaskClient,
                                                    service: tuple[str, str]) -> None:
    basic = client_credentials(browser, service, method="basic")
    form = client_credentials(browser, service, method="post")
    assert basic.status_code == form.status_code == 200
    for name in ("Content-Type", "Cache-Control", "Pragma"):
        assert basic.headers[name] == form.headers[name]
    assert basic.json.keys() == form.json.keys()
    assert {k: v for k, v in basic.json.items() if k != "access_token"} == {
        k: v for k, v in form.json.items() if k != "access_token"}
    assert introspect(browser, service, basic.json["access_token"]).json["active"] is True


@pytest.mark.parametrize("body", [
    "grant_type=client_credentials&grant_type=client_credentials",  # a parameter twice
    "grant_type=client_credentials&scope=schedule.read&scope=schedule.read",
    "grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.org",  # one more
    "grant_type=client_credentials&client_id=timetable",  # the client named twice
])
def test_unusual_forms_still_get_a_token(browser: FlaskClient, body: str) -> None:
    response = browser.post("/token", data=body, headers=BASIC,
                            content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "Bearer"


def test_parameters_in_the_query_are_read_as_before(browser: FlaskClient) -> None:
    """Authlib reads the query with the form, the query first."""
    response = browser.post("/token?grant_type=refresh_token",
                            data={"grant_type": "client_credentials"}, headers=BASIC)
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"
    asked = browser.post("/token?scope=schedule.read", data={"grant_type": "client_credentials"},
                         headers=BASIC)
    assert asked.status_code == 200 and asked.json["scope"] == "schedule.read"


@pytest.mark.parametrize("header", [
    "Basic " + base64.b64encode(f"{SERVICE[0]}:wrong-secret-0123456789".encode()).decode(),
    "Basic " + base64.b64encode(b"no-such-client:whatever-0123456789").decode(),
    "Basic " + base64.b64encode(SERVICE[0].encode()).decode(),  # no secret
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8
])
def test_bad_basic_credentials_get_invalid_client_with_a_challenge(browser: FlaskClient,
                                                                   header: str) -> None:
    response = browser.post("/token", data={"grant_type": "client_credentials"},
                            headers={"Authorization": header})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "access_token" not in response.json


def test_a_scope_the_service_may_not_have_is_refused(browser: FlaskClient) -> None:
    response = browser.post("/token", data={"grant_type": "client_credentials",
                                            "scope": "schedule.read catalog.read"}, headers=BASIC)
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_a_multipart_body_is_read_as_before(browser: FlaskClient) -> None:
    response = browser.post("/token", data={"grant_type": "client_credentials"}, headers=BASIC,
                            content_type="multipart/form-data")
    assert response.status_code == 200, response.json


def test_no_token_over_plain_http_to_a_public_host(browser: FlaskClient) -> None:
    """OAuth 2.0 over TLS only, loopback excepted (Authlib's rule, RFC 8252 7.3)."""
    response = browser.post("/token", data={"grant_type": "client_credentials"}, headers=BASIC,
                            base_url="http://id.campus.test")
    assert response.status_code == 400 and response.json["error"] == "insecure_transport"
    assert client_credentials(browser, SERVICE).status_code == 200  # http://localhost

