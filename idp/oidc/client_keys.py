"""A client's public keys (RFC 7591 2: ``jwks`` by value or ``jwks_uri``) for verifying its
client assertions (RFC 7523) and request objects (RFC 9101).

Keys behind a ``jwks_uri`` are fetched through ``idp.oidc.outbound`` (one total deadline, a size
limit, no redirects, public addresses only unless allowed) and cached in this process for
``CACHE_LIFETIME_S``. A remote server cannot make the provider wait or work for it: a key id
the cached set does not know fetches the set again at most once per ``[outbound]
min_refetch_s``; a fetch that failed is remembered for ``failure_cache_s`` and answered at once
meanwhile; concurrent requests for one URI share one fetch; and ``before_fetch`` (the request's
open database transaction ended, see ``idp.context.end_reads``) runs before any network I/O.
A plain http ``jwks_uri`` is refused outside dev mode. Every failure to have the keys answers
one message, whatever went wrong; the reason is logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.oidc import outbound
from idp.settings.model import OutboundSettings
from idp.storage.clients import Client

log = logging.getLogger(__name__)

CACHE_LIFETIME_S = 300.0
MAX_CACHED_URIS = 1000
UNAVAILABLE = "The client's keys could not be had from its jwks_uri."
# What a client's keys may sign with: its assertions (RFC 7523) and its request objects (RFC 9101).
ASSERTION_ALGS = ("RS256", "PS256", "ES256", "EdDSA")
REQUEST_OBJECT_ALGS = ASSERTION_ALGS

Fetch = Callable[[str], bytes]


class ClientKeysError(Exception):
    """The client's keys cannot be had; the message is safe to show the client."""


@dataclass(frozen=True)
class _Entry:
    keys: KeySet | None  # None: the last fetch failed
    fetched_at: float


def fetch_jwks(uri: str, limits: OutboundSettings) -> bytes:
    answer = outbound.call("GET", uri, limits, headers={
        "Accept": "application/jwk-set+json, application/json"})
    if answer.status != 200:
        raise outbound.OutboundError(f"answered HTTP {answer.status}")
    return answer.body


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

    def __init__(self, *, dev_mode: bool, limits: OutboundSettings | None = None,
                 fetch: Fetch | None = None, before_fetch: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dev_mode = dev_mode
        self.limits = limits or OutboundSettings(allow_private=dev_mode)
        self.fetch: Fetch = fetch or (lambda uri: fetch_jwks(uri, self.limits))
        self.before_fetch = before_fetch
        self.clock = clock
        self._cache: dict[str, _Entry] = {}
        self._fetching: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def keys_for(self, client: Client, kid: str | None) -> KeySet:
        if client.jwks:
            return parse_jwks(client.jwks)
        uri = client.jwks_uri
        if not uri:
            raise ClientKeysError("The client has registered no keys (jwks or jwks_uri).")
        parts = urlsplit(uri)
        if parts.scheme != "https" and not (self.dev_mode and parts.scheme == "http"):
            raise ClientKeysError("The client's jwks_uri must use https.")
        entry = self._cache.get(uri)
        if entry is None or self._worth_fetching(entry, kid):
            entry = self._refresh(uri, kid)
        if entry.keys is None:
            raise ClientKeysError(UNAVAILABLE)
        return entry.keys

    def _worth_fetching(self, entry: _Entry, kid: str | None) -> bool:
        age = self.clock() - entry.fetched_at
        if entry.keys is None:
            return age >= self.limits.failure_cache_s
        if age > CACHE_LIFETIME_S:
            return True
        unknown_kid = kid is not None and not knows_kid(entry.keys, kid)
        return unknown_kid and age >= self.limits.min_refetch_s

    def _refresh(self, uri: str, kid: str | None) -> _Entry:
        """One fetch per URI at a time: whoever waited for it takes its result."""
        with self._lock:
            fetching = self._fetching.setdefault(uri, threading.Lock())
        if not fetching.acquire(timeout=self.limits.timeout_s + 1):
            raise ClientKeysError(UNAVAILABLE)
        try:
            entry = self._cache.get(uri)
            if entry is not None and not self._worth_fetching(entry, kid):
                return entry  # fetched while this request waited
            entry = _Entry(self._fetch_keys(uri), self.clock())
            with self._lock:
                if len(self._cache) >= MAX_CACHED_URIS:
                    self._cache.clear()
                    self._fetching = {uri: fetching}
                self._cache[uri] = entry
            return entry
        finally:
            fetching.release()

    def _fetch_keys(self, uri: str) -> KeySet | None:
        self.before_fetch()
        try:
            return parse_jwks(json.loads(self.fetch(uri)))
        except (outbound.OutboundError, ClientKeysError, ValueError) as error:
            log.warning("jwks_uri %s could not be used: %s", uri, error)
            return None
