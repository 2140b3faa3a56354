"""panva's openid-client, registered with its own key, authenticates with private_key_jwt at
the token and introspection endpoints, logs in through a pushed authorization request and
with a signed request object, and sees one pairwise subject everywhere: none of its checks
relaxed."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from demo.stack import ProviderStack
from tests.interop.test_openid_client import drive
from tests.support.client_keys import assertion_form, make_key, public_jwks

pytestmark = pytest.mark.interop


def test_openid_client_private_key_jwt_par_and_request_objects(provider: ProviderStack) -> None:
    issued = json.loads(provider.idp("registration-tokens", "create", "--org", "tusur",
                                     "--max-uses", "1", "--json"))
    result = drive(provider, "private_key_jwt_par.mjs",
                   {"INITIAL_ACCESS_TOKEN": issued["token"]})
    assert "error" not in result, result
    client_id = result["client_id"]
    assert result["subject_type"] == "pairwise"
    par, jar = result["par"], result["jar"]
    for login in (par, jar):
        assert login["claims"]["iss"] == provider.issuer and login["claims"]["aud"] == client_id
        assert login["userinfo"]["sub"] == login["claims"]["sub"]
        assert login["userinfo"]["preferred_username"] == "demo@tusur.ru"
    assert par["claims"]["sub"] == jar["claims"]["sub"]
    assert result["refreshed"]["rotated"] is True
    introspection = result["introspection"]
    assert introspection["active"] is True and introspection["client_id"] == client_id
    assert introspection["sub"] == par["claims"]["sub"]


def test_an_assertion_is_spent_once_across_gunicorn_workers(provider: ProviderStack,
                                                            tmp_path: Path) -> None:
    """The production server runs several workers: the jti store is the database, so the same
    assertion sent again and again, in parallel, authenticates exactly once."""
    key = make_key("ES256")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(key)), encoding="utf-8")
    created = json.loads(provider.idp(
        "clients", "create", "--name", "Replay check", "--redirect-uri", "https://replay.example/cb",
        "--token-endpoint-auth-method", "private_key_jwt", "--jwks-file", str(jwks), "--json"))
    assert created["client_secret"] is None
    form = {"grant_type": "authorization_code", "code": "made-up",
            "redirect_uri": "https://replay.example/cb",
            **assertion_form(key, created["client_id"], aud=provider.issuer)}

    def send(_: int) -> str:
        response = requests.post(f"{provider.issuer}/token", data=form, timeout=10,
                                 verify=str(provider.ca_file))
        return str(response.json()["error"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        errors = list(pool.map(send, range(16)))
    assert errors.count("invalid_grant") == 1, errors  # authenticated once, then no code
    assert errors.count("invalid_client") == 15
