"""Every HTTP call the provider makes to an address a client gave (``jwks_uri``,
``sector_identifier_uri``, back-channel logout and event delivery URIs) goes through ``call``.

Invariants: one total deadline (``[outbound] timeout_s``) over name resolution, connection, TLS
and every read and write, however slowly the other side drips; at most ``max_bytes`` of body;
redirects are never followed (a 3xx is an answer like any other); no proxy. Unless
``allow_private`` is set, every address the name resolves to must be public (no loopback,
private, link-local such as cloud metadata at 169.254.169.254, shared, multicast, reserved or
unspecified address, nor one of these inside an IPv6 form), and the connection goes to an
address that was checked, so a name that resolves differently a moment later (DNS rebinding)
cannot slip through. Every failure raises ``OutboundError`` with the same public message
whatever went wrong; what went wrong is only logged, so that the answers tell a caller nothing
about the network behind the provider (an open from a closed port, JSON from not).
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from connectors.deadline_http import Connection, remaining
from idp.errors import IdpError
from idp.settings.model import OutboundSettings

log = logging.getLogger(__name__)

USER_AGENT = "campus-id"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Name resolution has no timeout of its own: it runs here and is waited for until the deadline.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")


class OutboundError(IdpError):
    """The call failed; ``public`` is the same for every reason, ``detail`` says which."""

    status_code = 502
    public = "could not be used: it must answer from a public address, in time, as required"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


def refused_address(address: Address) -> bool:
    """Not a public unicast address, itself or the IPv4 address an IPv6 form carries."""
    if isinstance(address, ipaddress.IPv6Address):
        teredo = address.teredo
        for inner in (address.ipv4_mapped, address.sixtofour, teredo[1] if teredo else None):
            if inner is not None and refused_address(inner):
                return True
    return (not address.is_global or address.is_private or address.is_loopback
            or address.is_link_local or address.is_multicast or address.is_reserved
            or address.is_unspecified or address in _SHARED)


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)


def call(method: str, url: str, limits: OutboundSettings, *, body: bytes | None = None,
         headers: Mapping[str, str] | None = None) -> Answer:
    """One request, answered within ``limits.timeout_s`` or refused with ``OutboundError``."""
    deadline = time.monotonic() + limits.timeout_s
    try:
        return _call(method, url, limits, deadline, body, dict(headers or {}))
    except OutboundError as error:
        log.warning("outbound %s %s refused: %s", method, url, error.detail)
        raise
    except (OSError, http.client.HTTPException, ValueError) as error:
        log.warning("outbound %s %s failed: %s: %s", method, url, type(error).__name__, error)
        raise OutboundError(f"{type(error).__name__}: {error}") from None


def _call(method: str, url: str, limits: OutboundSettings, deadline: float,
          body: bytes | None, headers: dict[str, str]) -> Answer:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError("not an absolute http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(parts.hostname, port, deadline)
    if not limits.allow_private:
        refused = [str(a) for a in addresses if refused_address(a)]
        if refused:
            raise OutboundError(f"{parts.hostname} resolves to a non-public address ({refused[0]})")
    conn = Connection(parts.hostname, port, [str(a) for a in addresses], deadline,
                      parts.scheme == "https")
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.request(method, target, body=body, headers={
            "User-Agent": USER_AGENT, "Connection": "close", **headers})
        response = conn.getresponse()
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise OutboundError(f"Content-Length {declared} is over {limits.max_bytes} bytes")
        data = bytearray()
        while chunk := response.read(min(65536, limits.max_bytes + 1 - len(data))):
            data.extend(chunk)
            if len(data) > limits.max_bytes:
                raise OutboundError(f"the body is over {limits.max_bytes} bytes")
        return Answer(response.status, bytes(data), response.getheader("Content-Type") or "")
    finally:
        conn.close()


def _resolve(host: str, port: int, deadline: float) -> list[Address]:
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=remaining(deadline))
    except FutureTimeout:
        raise OutboundError(f"resolving {host} took too long") from None
    except OSError as error:
        raise OutboundError(f"{host} does not resolve: {error}") from None
    found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not found:
        raise OutboundError(f"{host} has no address")
    return found
