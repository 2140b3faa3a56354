"""panva's openid-client, registered with its own key, authenticates with private_key_jwt at
the token and introspection endpoints, logs in through a pushed authorization request and
with a signed request object, and sees one pairwise subject everywhere: none of its checks
relaxed."""

from __future__ import annotations

import json

import pytest

from demo.stack import ProviderStack
from tests.interop.test_openid_client import drive

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
