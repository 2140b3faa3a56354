"""A client's public keys (RFC 7591 2: ``jwks`` by value or ``jwks_uri``) for verifying its
client assertions (RFC 7523) and request objects (RFC 9101).

Keys behind a ``jwks_uri`` are fetched with a short timeout and a size limit, without
following redirects, and cached in this process for ``CACHE_LIFETIME_S``; a key id the cached
set does not know triggers one fresh fetch (the client may have rotated its keys). A plain
http ``jwks_uri`` is refused outside dev mode.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.storage.clients import Client

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 3.0
CACHE_LIFETIME_S = 300.0
MAX_JWKS_BYTES = 64 * 1024
MAX_CACHED_URIS = 1000

Fetch = Callable[[str], bytes]


class ClientKeysError(Exception):
    """The client's keys cannot be had; the message is safe to show the client."""


@dataclass(frozen=True)
class _Cached:
    keys: KeySet
    fetched_at: float


def fetch_jwks(uri: str) -> bytes:
    with requests.get(uri, timeout=FETCH_TIMEOUT_S, allow_redirects=False, stream=True,
                      headers={"Accept": "application/jwk-set+json, application/json"}) as resp:
        if resp.status_code != 200:
            raise ClientKeysError(f"The client's jwks_uri answered HTTP {resp.status_code}.")
        body = bytearray()
        for chunk in resp.iter_content(chunk_size=8192):
            body.extend(chunk)
            if len(body) > MAX_JWKS_BYTES:
                raise ClientKeysError("The client's JWK set is too large.")
        return bytes(body)


def parse_jwks(data: object) -> KeySet:
    """Public keys only: a set carrying private key material is refused."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise ClientKeysError("The client's JWK set has no keys.")
    for key in data["keys"]:
        if not isinstance(key, dict) or key.get("kty") == "oct" or "d" in key:
            raise ClientKeysError("The client's JWK set must hold public keys only.")
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as error:
        raise ClientKeysError("The client's JWK set cannot be read.") from error


def knows_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


class ClientKeys:
    """Resolves and caches client key sets; one instance per app, shared by its threads."""

    def __init__(self, *, dev_mode: bool, fetch: Fetch = fetch_jwks,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dev_mode = dev_mode
        self.fetch = fetch
        self.clock = clock
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def keys_for(self, client: Client, kid: str | None) -> KeySet:
        if client.jwks:
            return parse_jwks(client.jwks)
        uri = client.jwks_uri
        if not uri:
            raise ClientKeysError("The client has registered no keys (jwks or jwks_uri).")
        cached = self._cache.get(uri)
        stale = cached is None or self.clock() - cached.fetched_at > CACHE_LIFETIME_S
        if stale or (kid is not None and cached is not None and not knows_kid(cached.keys, kid)):
            cached = self._refresh(uri)
        assert cached is not None
        return cached.keys

    def _refresh(self, uri: str) -> _Cached:
        parts = urlsplit(uri)
        if parts.scheme != "https" and not (self.dev_mode and parts.scheme == "http"):
            raise ClientKeysError("The client's jwks_uri must use https.")
        try:
            body = self.fetch(uri)
            data: Any = json.loads(body)
        except (requests.RequestException, ValueError) as error:
            log.warning("jwks_uri %s could not be fetched: %s", uri, error)
            raise ClientKeysError("The client's jwks_uri could not be fetched.") from error
        cached = _Cached(parse_jwks(data), self.clock())
        with self._lock:
            if len(self._cache) >= MAX_CACHED_URIS:
                self._cache.clear()
            self._cache[uri] = cached
        return cached
