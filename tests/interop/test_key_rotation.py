"""`idp keys rotate` against a running `idp serve` (gunicorn, two workers): the new key reaches
every worker's JWKS without a restart, the current key stays the active one, and openid-client
still validates the ID tokens it gets meanwhile."""

from __future__ import annotations

import json
import time

import pytest
import requests

from demo.stack import ProviderStack
from tests.interop.conftest import CLIENTS
from tests.interop.test_openid_client import drive

pytestmark = pytest.mark.interop


def published(provider: ProviderStack) -> set[str]:
    """One JWKS fetch on a new connection, so that successive fetches reach either worker."""
    response = requests.get(f"{provider.issuer}/jwks", timeout=10, verify=str(provider.ca_file),
                            headers={"Connection": "close"})
    return {k["kid"] for k in response.json()["keys"]}


def test_a_rotated_key_reaches_every_worker_and_signs_only_after_its_delay(
        provider: ProviderStack) -> None:
    keys = [json.loads(line) for line in provider.idp("keys", "list", "--json").splitlines()]
    active = next(k["kid"] for k in keys if k["alg"] == "EdDSA" and k["state"] == "active")
    provider.idp("keys", "rotate", "--alg", "EdDSA")
    keys = [json.loads(line) for line in provider.idp("keys", "list", "--json").splitlines()]
    pending = next(k["kid"] for k in keys if k["alg"] == "EdDSA" and k["state"] == "pending")

    # Every worker checks for new keys every [keys] reload_check_s (5 s): wait for twenty
    # fetches in a row, on new connections, that all carry the new key.
    deadline, in_a_row = time.monotonic() + 60, 0
    while in_a_row < 20:
        assert time.monotonic() < deadline, "a worker never published the rotated key"
        kids = published(provider)
        in_a_row = in_a_row + 1 if pending in kids else 0
        assert active in kids
        if not in_a_row:
            time.sleep(0.5)

    states = {k["kid"]: k["state"] for k in
              map(json.loads, provider.idp("keys", "list", "--json").splitlines())}
    assert (states[active], states[pending]) == ("active", "pending")
    client = CLIENTS["interop-eddsa"]
    result = drive(provider, "code_flow.mjs", {
        "CLIENT_ID": "interop-eddsa", "CLIENT_SECRET": client["client_secret"],
        "ID_TOKEN_ALG": "EdDSA"})
    assert "error" not in result, result
    assert result["claims"]["aud"] == "interop-eddsa"
