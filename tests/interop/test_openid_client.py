"""panva's openid-client (npm) completes discovery, code + PKCE, token, ID token validation
and UserInfo against a running `idp serve`, with none of its checks relaxed."""

from __future__ import annotations

import json
import os
import re
import subprocess
from urllib.parse import urljoin

import pytest
import requests

from demo.stack import ProviderStack
from tests.interop.conftest import CLIENTS, INTEROP_DIR, REDIRECT_URI

pytestmark = pytest.mark.interop


def browse_to_callback(provider: ProviderStack, authorization_url: str, username: str,
                       password: str) -> str:
    """What a person's browser does: login form, consent, and the redirect back."""
    web = requests.Session()
    ca = str(provider.ca_file)  # given per request: an environment CA bundle would override the session's

    def get(url: str) -> requests.Response:
        return web.get(urljoin(provider.issuer, url), allow_redirects=False, timeout=10, verify=ca)

    response = get(authorization_url)
    assert response.status_code == 302, response.text[:300]
    page = get(response.headers["Location"])
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    rid = re.search(r'name="rid" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = web.post(urljoin(provider.issuer, "/login"), allow_redirects=False, timeout=10, verify=ca,
                        data={"csrf_token": csrf, "rid": rid, "username": username, "password": password})
    assert response.status_code == 302, response.text[:300]
    consent_url = urljoin(provider.issuer, response.headers["Location"])
    consent = get(consent_url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', consent.text).group(1)  # type: ignore[union-attr]
    response = web.post(consent_url, data={"csrf_token": csrf, "consent": "allow"},
                        allow_redirects=False, timeout=10, verify=ca)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return location


@pytest.mark.parametrize("client_id", sorted(CLIENTS))
def test_openid_client_code_flow(provider: ProviderStack, client_id: str) -> None:
    client = CLIENTS[client_id]
    env = {**os.environ, "ISSUER": provider.issuer, "CLIENT_ID": client_id,
           "CLIENT_SECRET": client["client_secret"], "REDIRECT_URI": REDIRECT_URI,
           "ID_TOKEN_ALG": client["id_token_signed_response_alg"],
           "NODE_EXTRA_CA_CERTS": str(provider.ca_file)}
    with subprocess.Popen(["node", str(INTEROP_DIR / "code_flow.mjs")], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=env) as node:
        assert node.stdout is not None and node.stdin is not None
        try:
            first = json.loads(node.stdout.readline())
            assert "authorization_url" in first, first
            callback = browse_to_callback(provider, first["authorization_url"], "demo@tusur.ru", "demo")
            node.stdin.write(callback + "\n")
            node.stdin.flush()
            result = json.loads(node.stdout.readline())
        finally:
            node.stdin.close()
            if node.wait(30) is None:
                node.kill()
    assert "error" not in result, result
    claims, userinfo = result["claims"], result["userinfo"]
    assert claims["iss"] == provider.issuer and claims["aud"] == client_id
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["preferred_username"] == "demo@tusur.ru"
    assert userinfo["family_name"] == "Демченко"
    assert userinfo["affiliations"] == ["member@tusur.ru", "student@tusur.ru"]
    assert result["token_type"].lower() == "bearer"
