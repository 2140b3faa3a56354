"""Services get access tokens with the client credentials grant, limited to their own scopes;
access tokens are opaque or RFC 9068 JWTs per client, and UserInfo takes both."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.flows.conftest import RP1, RP2, SERVICE, SERVICE_AUDIENCE, SERVICE_JWT, SPA
from tests.support.oidc_client import sign_in
from tests.support.tokens import client_credentials, introspect, revoke, userinfo_status

ISSUER = "https://id.campus.test"


def decode_access_token(browser: FlaskClient, token: str, alg: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate as a resource server would (RFC 9068 section 4)."""
    keys = KeySet.import_key_set(browser.get("/jwks").json)
    decoded = jwt.decode(token, keys, algorithms=[alg])
    assert decoded.header["typ"] == "at+jwt" and decoded.header["alg"] == alg
    assert decoded.header["kid"] in {k["kid"] for k in browser.get("/jwks").json["keys"]}
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        **{name: {"essential": True} for name in ("aud", "sub", "client_id", "iat", "exp", "jti")},
    ).validate(decoded.claims)
    return dict(decoded.header), decoded.claims


@pytest.mark.parametrize("method", ["basic", "post"])
def test_service_gets_an_opaque_token_for_all_its_scopes(browser: FlaskClient, method: str) -> None:
    response = client_credentials(browser, SERVICE, method=method)
    assert response.status_code == 200, response.json
    assert "no-store" in response.headers["Cache-Control"]
    body = response.json
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "schedule.read schedule.write"
    assert body["access_token"].count(".") == 0
    info = introspect(browser, SERVICE, body["access_token"]).json
    assert info["active"] is True and info["sub"] == SERVICE[0] and info["client_id"] == SERVICE[0]
    assert info["scope"] == "schedule.read schedule.write"


def test_service_may_ask_for_fewer_scopes(browser: FlaskClient) -> None:
    response = client_credentials(browser, SERVICE, scope="schedule.read")
    assert response.status_code == 200 and response.json["scope"] == "schedule.read"


@pytest.mark.parametrize("scope", ["catalog.read", "schedule.read catalog.read", "openid",
                                   "offline_access", "schedule.read profile"])
def test_scope_outside_the_service_scopes_is_refused(browser: FlaskClient, scope: str) -> None:
    response = client_credentials(browser, SERVICE, scope=scope)
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_jwt_access_token_follows_rfc_9068(browser: FlaskClient) -> None:
    response = client_credentials(browser, SERVICE_JWT)
    assert response.status_code == 200, response.json
    token = response.json["access_token"]
    _, claims = decode_access_token(browser, token, "RS256")
    assert claims["sub"] == claims["client_id"] == SERVICE_JWT[0]
    assert claims["aud"] == SERVICE_AUDIENCE and claims["scope"] == "catalog.read"
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) < 60
    info = introspect(browser, SERVICE_JWT, token).json
    assert info["active"] and info["jti"] == claims["jti"] and info["aud"] == SERVICE_AUDIENCE


def test_service_token_is_not_a_person_at_userinfo(browser: FlaskClient) -> None:
    for service in (SERVICE, SERVICE_JWT):
        token = client_credentials(browser, service).json["access_token"]
        assert userinfo_status(browser, token) == 401


def test_person_jwt_access_token_works_at_userinfo_until_revoked(browser: FlaskClient) -> None:
    result = sign_in(browser, RP2, "demo@tpu.ru", "demo")
    tokens = RP2.token(browser, result["code"]).json
    _, claims = decode_access_token(browser, tokens["access_token"], "ES256")
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json["sub"] == claims["sub"]
    assert claims["client_id"] == RP2.client_id and claims["aud"] == ISSUER
    assert set(claims["scope"].split()) == set(RP2.scope.split())
    assert revoke(browser, (RP2.client_id, RP2.secret), tokens["access_token"]).status_code == 200
    assert userinfo_status(browser, tokens["access_token"]) == 401


def test_forged_or_altered_jwt_is_refused(browser: FlaskClient) -> None:
    result = sign_in(browser, RP2, "demo@tpu.ru", "demo")
    token = RP2.token(browser, result["code"]).json["access_token"]
    header, payload, signature = token.split(".")
    assert userinfo_status(browser, f"{header}.{payload}.{signature[:-4]}AAAA") == 401
    assert userinfo_status(browser, f"{header}.{payload}.") == 401


def test_client_without_the_grant_or_public_client_is_refused(browser: FlaskClient) -> None:
    code_client = client_credentials(browser, (RP1.client_id, RP1.secret))
    assert code_client.status_code == 400 and code_client.json["error"] == "unauthorized_client"
    public = client_credentials(browser, (SPA.client_id, None))
    assert public.status_code in (400, 401) and public.json["error"] == "invalid_client"


def test_service_cannot_use_the_code_flow_or_refresh(browser: FlaskClient) -> None:
    response = browser.get("/authorize", query_string={
        "response_type": "code", "client_id": SERVICE[0], "scope": "openid",
        "redirect_uri": "https://svc.example.org/cb"})
    assert response.status_code == 400 and "Location" not in response.headers
    refused = browser.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                           auth=SERVICE)
    assert refused.status_code == 400 and refused.json["error"] == "unauthorized_client"


def test_wrong_secret_is_refused(browser: FlaskClient) -> None:
    response = client_credentials(browser, (SERVICE[0], "not-the-secret-0123456789"))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    unknown = client_credentials(browser, ("no-such-service", "whatever-0123456789"))
    assert unknown.status_code == 401 and unknown.json["error"] == "invalid_client"
