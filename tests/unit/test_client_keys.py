"""Client key sets (idp.oidc.client_keys) without a network: jwks by value, a jwks_uri cached
for a bounded time, one fresh fetch for an unknown kid, https required outside dev mode, and
private or shared keys refused."""

from __future__ import annotations

import json

import pytest

from idp.oidc.client_keys import CACHE_LIFETIME_S, ClientKeys, ClientKeysError, parse_jwks
from idp.storage.clients import Client
from tests.support.client_keys import make_key, public_jwks

URI = "https://rp.example.org/jwks.json"


class FakeFetch:
    def __init__(self, document: dict[str, object]) -> None:
        self.document = document
        self.calls = 0

    def __call__(self, uri: str) -> bytes:
        self.calls += 1
        return json.dumps(self.document).encode()


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def kids(keys: object) -> set[str]:
    return {str(k.kid) for k in keys.keys}  # type: ignore[attr-defined]


def test_registered_jwks_are_used_as_they_are() -> None:
    key = make_key(kid="a")
    keys = ClientKeys(dev_mode=False, fetch=FakeFetch({}))
    assert kids(keys.keys_for(Client(jwks=public_jwks(key)), "a")) == {"a"}


def test_a_jwks_uri_is_cached_for_a_bounded_time_and_refetched_for_an_unknown_kid() -> None:
    fetch, clock = FakeFetch(public_jwks(make_key(kid="a"))), Clock()
    keys = ClientKeys(dev_mode=False, fetch=fetch, clock=clock)
    client = Client(jwks_uri=URI)
    keys.keys_for(client, "a")
    keys.keys_for(client, "a")
    keys.keys_for(client, None)
    assert fetch.calls == 1
    fetch.document = public_jwks(make_key(kid="a"), make_key(kid="b"))
    assert kids(keys.keys_for(client, "b")) == {"a", "b"} and fetch.calls == 2
    clock.now += CACHE_LIFETIME_S + 1
    keys.keys_for(client, "a")
    assert fetch.calls == 3


def test_plain_http_is_refused_outside_dev_mode() -> None:
    fetch = FakeFetch(public_jwks(make_key()))
    client = Client(jwks_uri="http://127.0.0.1:9/jwks.json")
    with pytest.raises(ClientKeysError, match="https"):
        ClientKeys(dev_mode=False, fetch=fetch).keys_for(client, None)
    assert fetch.calls == 0
    assert ClientKeys(dev_mode=True, fetch=fetch).keys_for(client, None)


def test_a_client_without_keys_has_none() -> None:
    with pytest.raises(ClientKeysError, match="no keys"):
        ClientKeys(dev_mode=False).keys_for(Client(), None)


@pytest.mark.parametrize("document", [
    {"keys": [make_key().as_dict(private=True)]},
    {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldA"}]},
    {"keys": []},
    {"not": "a set"},
])
def test_private_shared_or_empty_sets_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(ClientKeysError):
        parse_jwks(document)
