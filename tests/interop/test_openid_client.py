"""panva's openid-client (npm) completes discovery, code + PKCE, token, ID token validation
and UserInfo against a running `idp serve`, then refresh with rotation, reuse detection,
introspection, revocation and client credentials, with none of its checks relaxed."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from demo.stack import ProviderStack
from tests.interop.conftest import CLIENTS, INTEROP_DIR, REDIRECT_URI, SERVICE_AUDIENCE, SERVICES
from tests.support.oidc_client import is_login_form

pytestmark = pytest.mark.interop


def browse_to_callback(provider: ProviderStack, authorization_url: str, username: str,
                       password: str) -> str:
    """What a person's browser does: login form, consent, and the redirect back."""
    web = requests.Session()
    ca = str(provider.ca_file)  # given per request: an environment CA bundle would override the session's

    def get(url: str) -> requests.Response:
        return web.get(urljoin(provider.issuer, url), allow_redirects=False, timeout=10, verify=ca)

    page = get(authorization_url)  # the login form, at the authorization request itself
    assert is_login_form(page), page.text[:300]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    rid = re.search(r'name="rid" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = web.post(urljoin(provider.issuer, "/login"), allow_redirects=False, timeout=10, verify=ca,
                        data={"csrf_token": csrf, "rid": rid, "username": username, "password": password})
    assert response.status_code == 302, response.text[:300]
    if not response.headers["Location"].startswith(REDIRECT_URI):  # consent first (else the code)
        consent_url = urljoin(provider.issuer, response.headers["Location"])
        response = get(consent_url)
        if response.status_code == 200:  # not remembered from an earlier login: the consent page
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)  # type: ignore[union-attr]
            response = web.post(consent_url, data={"csrf_token": csrf, "consent": "allow"},
                                allow_redirects=False, timeout=10, verify=ca)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return location


def drive(provider: ProviderStack, script: str, env: dict[str, str]) -> dict[str, Any]:
    """Run a Node relying party: answer each authorization URL it prints with a login in a
    fresh browser, and return the last line it prints."""
    env = {**os.environ, "ISSUER": provider.issuer, "REDIRECT_URI": REDIRECT_URI,
           "NODE_EXTRA_CA_CERTS": str(provider.ca_file), **env}
    with subprocess.Popen(["node", str(INTEROP_DIR / script)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=env) as node:
        assert node.stdout is not None and node.stdin is not None
        try:
            while True:
                line = node.stdout.readline()
                assert line, "the Node script ended without a result"
                message: dict[str, Any] = json.loads(line)
                if "authorization_url" not in message:
                    return message
                callback = browse_to_callback(provider, message["authorization_url"],
                                              "demo@tusur.ru", "demo")
                node.stdin.write(callback + "\n")
                node.stdin.flush()
        finally:
            node.stdin.close()
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()


@pytest.mark.parametrize("client_id", sorted(CLIENTS))
def test_openid_client_code_flow(provider: ProviderStack, client_id: str) -> None:
    client = CLIENTS[client_id]
    result = drive(provider, "code_flow.mjs", {
        "CLIENT_ID": client_id, "CLIENT_SECRET": client["client_secret"],
        "ID_TOKEN_ALG": client["id_token_signed_response_alg"]})
    assert "error" not in result, result
    claims, userinfo = result["claims"], result["userinfo"]
    assert claims["iss"] == provider.issuer and claims["aud"] == client_id
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["preferred_username"] == "demo@tusur.ru"
    assert userinfo["family_name"] == "Демченко"
    assert userinfo["affiliations"] == ["member@tusur.ru", "student@tusur.ru"]
    assert result["token_type"].lower() == "bearer"


@pytest.mark.parametrize(("client_id", "auth"), [("interop-rs256", "post"),
                                                 ("interop-es256", "basic"),
                                                 ("interop-eddsa", "basic")])
def test_openid_client_refresh_introspection_revocation_client_credentials(
        provider: ProviderStack, client_id: str, auth: str) -> None:
    client = CLIENTS[client_id]
    (service_id, service), = SERVICES.items()
    jwt_tokens = client.get("access_token_format") == "jwt"
    result = drive(provider, "token_lifecycle.mjs", {
        "CLIENT_ID": client_id, "CLIENT_SECRET": client["client_secret"], "CLIENT_AUTH": auth,
        "ID_TOKEN_ALG": client["id_token_signed_response_alg"],
        "ACCESS_TOKEN_JWT": "1" if jwt_tokens else "",
        "SERVICE_ID": service_id, "SERVICE_SECRET": service["client_secret"],
        "SERVICE_SCOPE": "timetable.read", "SERVICE_AUDIENCE": SERVICE_AUDIENCE})
    assert "error" not in result, result
    steps = result["steps"]
    # Refresh with rotation; the new access token works at UserInfo.
    assert steps["rotated"] is True
    assert set(steps["refreshed_scope"].split()) == {"openid", "profile", "offline_access"}
    assert steps["userinfo_after_refresh"]["preferred_username"] == "demo@tusur.ru"
    if jwt_tokens:
        assert steps["jwt_access_token"]["client_id"] == client_id
        assert steps["jwt_access_token"]["sub"] == steps["userinfo_after_refresh"]["sub"]
    access, refresh = steps["introspect_access"], steps["introspect_refresh"]
    assert access["active"] is True and access["client_id"] == client_id
    assert access["sub"] == steps["userinfo_after_refresh"]["sub"]
    assert refresh["active"] is True
    # The rotated token presented again ends the family, access tokens included.
    assert steps["reuse"] == "invalid_grant"
    assert steps["after_reuse_refresh"] == "invalid_grant"
    assert steps["after_reuse_userinfo"] == 401
    assert steps["after_reuse_introspect"] == {"active": False}
    # Revoking a refresh token ends its family; an unknown token is no error.
    assert steps["revoked_refresh"] == "invalid_grant"
    assert steps["revoked_family_introspect"] == {"active": False}
    assert steps["revoke_unknown"] == "accepted"
    # Client credentials: an RFC 9068 token a resource server accepts, nothing more.
    assert steps["service_token"] == {"token_type": "bearer", "scope": "timetable.read",
                                      "has_refresh_token": False, "has_id_token": False}
    claims = steps["service_claims"]
    assert claims["sub"] == claims["client_id"] == service_id and claims["aud"] == SERVICE_AUDIENCE
    assert steps["service_introspect"]["active"] is True
    assert steps["service_wider_scope"] == "invalid_scope"
    assert steps["service_revoked_introspect"] == {"active": False}
