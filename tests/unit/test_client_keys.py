"""Client key sets (idp.oidc.client_keys) without a network: jwks by value, a jwks_uri cached
for a bounded time, a fresh fetch for an unknown kid at most once per interval, failures
remembered and answered with one message, one fetch for concurrent requests, https required
outside dev mode, and private or shared keys refused."""

from __future__ import annotations

import json
import threading

import pytest

from idp.oidc.client_keys import (
    CACHE_LIFETIME_S,
    UNAVAILABLE,
    ClientKeys,
    ClientKeysError,
    parse_jwks,
)
from idp.oidc.outbound import OutboundError
from idp.settings.model import OutboundSettings
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
    # An unknown kid right after a fetch fetches nothing: a caller naming made-up kids cannot
    # make the provider fetch the set at every request.
    assert kids(keys.keys_for(client, "b")) == {"a"} and fetch.calls == 1
    clock.now += OutboundSettings.min_refetch_s
    assert kids(keys.keys_for(client, "b")) == {"a", "b"} and fetch.calls == 2
    assert kids(keys.keys_for(client, "c")) == {"a", "b"} and fetch.calls == 2
    clock.now += CACHE_LIFETIME_S + 1
    keys.keys_for(client, "a")
    assert fetch.calls == 3


class FailingFetch:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, uri: str) -> bytes:
        self.calls += 1
        raise OutboundError("ConnectionRefusedError: [Errno 111] Connection refused")


def test_a_failed_fetch_is_remembered_and_answered_with_one_message() -> None:
    fetch, clock = FailingFetch(), Clock()
    keys = ClientKeys(dev_mode=False, fetch=fetch, clock=clock)
    client = Client(jwks_uri=URI)
    for _ in range(3):
        with pytest.raises(ClientKeysError) as refused:
            keys.keys_for(client, "a")
        assert str(refused.value) == UNAVAILABLE  # not the reason: that is only logged
    assert fetch.calls == 1
    clock.now += OutboundSettings.failure_cache_s
    with pytest.raises(ClientKeysError):
        keys.keys_for(client, "a")
    assert fetch.calls == 2


@pytest.mark.parametrize("body", [b"not json", b"[]", json.dumps(
    {"keys": [make_key().as_dict(private=True)]}).encode()])
def test_a_jwks_uri_that_answers_no_public_key_set_gets_the_same_message(body: bytes) -> None:
    keys = ClientKeys(dev_mode=False, fetch=lambda uri: body)
    with pytest.raises(ClientKeysError) as refused:
        keys.keys_for(Client(jwks_uri=URI), None)
    assert str(refused.value) == UNAVAILABLE


def test_concurrent_requests_share_one_fetch_and_the_transaction_ends_before_it() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_fetch(uri: str) -> bytes:
        calls.append(uri)
        started.set()
        release.wait(5)
        return json.dumps(public_jwks(make_key(kid="a"))).encode()

    ended: list[bool] = []
    keys = ClientKeys(dev_mode=False, fetch=slow_fetch, before_fetch=lambda: ended.append(True))
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(keys.keys_for(Client(jwks_uri=URI), "a")))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    assert started.wait(5)
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(results) == 5 and calls == [URI] and ended == [True]


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
