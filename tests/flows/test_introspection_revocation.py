"""Introspection (RFC 7662) and revocation (RFC 7009): client-authenticated either way, each
client sees and revokes only its own tokens, revoking a refresh token ends its family."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import context
from idp.storage import audit
from tests.flows.conftest import PORTAL, RP1, RP2, SERVICE, SPA
from tests.support.oidc_client import RelyingParty, sign_in
from tests.support.tokens import client_credentials, introspect, refresh, revoke, userinfo_status

ISSUER = "https://id.campus.test"
OFFLINE = "openid profile offline_access"


def creds(rp: RelyingParty) -> tuple[str, str | None]:
    return rp.client_id, rp.secret


def offline_tokens(browser: FlaskClient, rp: RelyingParty = RP1) -> dict[str, Any]:
    result = sign_in(browser, rp, "demo@tpu.ru", "demo", scope=OFFLINE)
    body: dict[str, Any] = rp.token(browser, result["code"]).json
    return body


@pytest.mark.parametrize("method", ["basic", "post"])
def test_client_introspects_its_access_and_refresh_tokens(browser: FlaskClient, method: str) -> None:
    tokens = offline_tokens(browser)
    access = introspect(browser, creds(RP1), tokens["access_token"], method=method)
    assert access.status_code == 200 and access.mimetype == "application/json"
    assert "no-store" in access.headers["Cache-Control"]
    info = access.json
    assert info["active"] is True and info["token_type"] == "Bearer"
    assert info["client_id"] == RP1.client_id and info["iss"] == ISSUER and info["aud"] == ISSUER
    assert set(info["scope"].split()) == set(OFFLINE.split())
    assert info["exp"] - info["iat"] == 3600 and abs(info["iat"] - time.time()) < 60
    userinfo = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info["sub"] == userinfo.json["sub"]
    refresh_info = introspect(browser, creds(RP1), tokens["refresh_token"],
                              hint="refresh_token", method=method).json
    assert refresh_info["active"] is True and refresh_info["sub"] == info["sub"]
    assert "token_type" not in refresh_info and refresh_info["exp"] > info["exp"]


def test_hint_is_only_a_hint(browser: FlaskClient) -> None:
    tokens = offline_tokens(browser)
    for hint in ("refresh_token", "access_token", "something_else"):
        assert introspect(browser, creds(RP1), tokens["access_token"], hint=hint).json["active"]
        assert introspect(browser, creds(RP1), tokens["refresh_token"], hint=hint).json["active"]


def test_other_clients_and_unknown_tokens_are_inactive(browser: FlaskClient) -> None:
    tokens = offline_tokens(browser)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(browser, creds(PORTAL), token).json == {"active": False}
        assert introspect(browser, SERVICE, token).json == {"active": False}
    assert introspect(browser, creds(RP1), "no-such-token").json == {"active": False}
    assert introspect(browser, creds(RP1), "x" * 10000).json == {"active": False}


def test_introspection_needs_an_authenticated_confidential_client(browser: FlaskClient) -> None:
    tokens = offline_tokens(browser)
    anonymous = browser.post("/introspect", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401 and anonymous.json["error"] == "invalid_client"
    wrong = introspect(browser, (RP1.client_id, "wrong-secret-0123456789"), tokens["access_token"])
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"
    spa = offline_tokens(browser, SPA)
    public = introspect(browser, creds(SPA), spa["access_token"])
    assert public.status_code in (400, 401) and public.json["error"] == "invalid_client"
    missing = browser.post("/introspect", data={}, auth=creds(RP1))
    assert missing.status_code == 400 and missing.json["error"] == "invalid_request"
    assert browser.get("/introspect").status_code == 405


@pytest.mark.parametrize("method", ["basic", "post"])
def test_revoking_an_access_token_leaves_the_refresh_token(
        browser: FlaskClient, app: Flask, method: str) -> None:
    tokens = offline_tokens(browser)
    response = revoke(browser, creds(RP1), tokens["access_token"], method=method)
    assert response.status_code == 200
    assert userinfo_status(browser, tokens["access_token"]) == 401
    assert introspect(browser, creds(RP1), tokens["access_token"]).json == {"active": False}
    assert refresh(browser, creds(RP1), tokens["refresh_token"]).status_code == 200
    with app.app_context():
        (event,) = audit.events(context.db(), audit.AuditEventType.TOKEN_REVOKED)
        assert event.details["kind"] == "access_token" and event.client_id == RP1.client_id


def test_revoking_a_refresh_token_ends_its_family(browser: FlaskClient, app: Flask) -> None:
    tokens = offline_tokens(browser)
    rotated = refresh(browser, creds(RP1), tokens["refresh_token"]).json
    assert revoke(browser, creds(RP1), rotated["refresh_token"], hint="refresh_token").status_code == 200
    for access in (tokens["access_token"], rotated["access_token"]):
        assert userinfo_status(browser, access) == 401
        assert introspect(browser, creds(RP1), access).json == {"active": False}
    refused = refresh(browser, creds(RP1), rotated["refresh_token"])
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    with app.app_context():
        (event,) = audit.events(context.db(), audit.AuditEventType.TOKEN_REVOKED)
        assert event.details["kind"] == "refresh_token"
        assert event.details["revoked_access_tokens"] == 2
        # Revocation is not reuse: nothing was presented twice.
        assert not audit.events(context.db(), audit.AuditEventType.REFRESH_TOKEN_REUSED)


def test_unknown_or_already_revoked_tokens_answer_200(browser: FlaskClient, app: Flask) -> None:
    assert revoke(browser, creds(RP1), "no-such-token").status_code == 200
    assert revoke(browser, creds(RP1), "no-such-token", hint="unknown_hint").status_code == 200
    tokens = offline_tokens(browser)
    assert revoke(browser, creds(RP1), tokens["access_token"], hint="whatever").status_code == 200
    assert revoke(browser, creds(RP1), tokens["access_token"]).status_code == 200
    with app.app_context():
        assert len(audit.events(context.db(), audit.AuditEventType.TOKEN_REVOKED)) == 1


def test_another_clients_token_is_refused_and_stays_valid(browser: FlaskClient) -> None:
    tokens = offline_tokens(browser)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = revoke(browser, creds(PORTAL), token)
        assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    assert userinfo_status(browser, tokens["access_token"]) == 200
    assert refresh(browser, creds(RP1), tokens["refresh_token"]).status_code == 200


def test_revocation_needs_client_authentication(browser: FlaskClient) -> None:
    tokens = offline_tokens(browser)
    anonymous = browser.post("/revoke", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401 and anonymous.json["error"] == "invalid_client"
    named_only = revoke(browser, (RP1.client_id, None), tokens["access_token"])
    assert named_only.status_code in (400, 401) and named_only.json["error"] == "invalid_client"
    missing = browser.post("/revoke", data={}, auth=creds(RP1))
    assert missing.status_code == 400 and missing.json["error"] == "invalid_request"
    assert userinfo_status(browser, tokens["access_token"]) == 200


def test_public_client_revokes_its_own_refresh_token(browser: FlaskClient) -> None:
    tokens = offline_tokens(browser, SPA)
    assert revoke(browser, creds(SPA), tokens["refresh_token"]).status_code == 200
    assert refresh(browser, creds(SPA), tokens["refresh_token"]).status_code == 400
    assert userinfo_status(browser, tokens["access_token"]) == 401


def test_service_revokes_its_jwt_and_opaque_tokens(browser: FlaskClient) -> None:
    token = client_credentials(browser, SERVICE).json["access_token"]
    assert introspect(browser, SERVICE, token).json["active"]
    assert revoke(browser, SERVICE, token).status_code == 200
    assert introspect(browser, SERVICE, token).json == {"active": False}
    result = sign_in(browser, RP2, "demo@tpu.ru", "demo")
    jwt_token = RP2.token(browser, result["code"]).json["access_token"]
    assert introspect(browser, creds(RP2), jwt_token).json["jti"]
    assert revoke(browser, creds(RP2), jwt_token).status_code == 200
    assert introspect(browser, creds(RP2), jwt_token).json == {"active": False}


def test_discovery_advertises_exactly_these_endpoints(browser: FlaskClient) -> None:
    meta = browser.get("/.well-known/openid-configuration").json
    assert meta["introspection_endpoint"] == ISSUER + "/introspect"
    assert meta["revocation_endpoint"] == ISSUER + "/revoke"
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token",
                                             "client_credentials"]
    assert "offline_access" in meta["scopes_supported"]
    assert meta["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic", "client_secret_post", "private_key_jwt"]
    assert meta["revocation_endpoint_auth_methods_supported"] == [
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    assert meta["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
