"""panva's openid-client registers itself through dynamic client registration (RFC 7591) with an
initial access token made by `idp registration-tokens create`, against a running `idp serve`,
then completes a login with the client it registered."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import requests

from demo.stack import ProviderStack
from tests.interop.conftest import INTEROP_DIR, REDIRECT_URI
from tests.interop.test_openid_client import browse_to_callback

pytestmark = pytest.mark.interop


def test_openid_client_registers_dynamically_and_logs_in(provider: ProviderStack) -> None:
    issued = json.loads(provider.idp("registration-tokens", "create", "--org", "tusur",
                                     "--max-uses", "1", "--json"))
    env = {**os.environ, "ISSUER": provider.issuer, "INITIAL_ACCESS_TOKEN": issued["token"],
           "REDIRECT_URI": REDIRECT_URI, "NODE_EXTRA_CA_CERTS": str(provider.ca_file)}
    with subprocess.Popen(["node", str(INTEROP_DIR / "dynamic_registration.mjs")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=env) as node:
        assert node.stdout is not None and node.stdin is not None
        try:
            first = json.loads(node.stdout.readline())
            assert "authorization_url" in first, first
            callback = browse_to_callback(provider, first["authorization_url"],
                                          "demo@tusur.ru", "demo")
            node.stdin.write(callback + "\n")
            node.stdin.flush()
            result = json.loads(node.stdout.readline())
        finally:
            node.stdin.close()
            if node.wait(30) is None:
                node.kill()
    assert "error" not in result, result
    assert result["claims"]["aud"] == first["client_id"]
    assert result["claims"]["iss"] == provider.issuer
    assert result["userinfo"]["sub"] == result["claims"]["sub"]
    assert result["userinfo"]["preferred_username"] == "demo@tusur.ru"

    # The registration is the organization's, and manageable with its registration token.
    read = requests.get(first["registration_client_uri"], timeout=10, verify=str(provider.ca_file),
                        headers={"Authorization": f"Bearer {first['registration_access_token']}"})
    assert read.status_code == 200, read.text
    assert read.json()["campus_organization"] == "tusur"
    assert read.json()["id_token_signed_response_alg"] == "ES256"
    # The initial access token allowed one registration only.
    again = requests.post(f"{provider.issuer}/register", json={"client_name": "x"}, timeout=10,
                          verify=str(provider.ca_file),
                          headers={"Authorization": f"Bearer {issued['token']}"})
    assert again.status_code == 401 and "used up" in again.json()["error_description"]
