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
import io
import ipaddress
import logging
import select
import socket
import ssl
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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
    conn = _Connection(parts.hostname, port, addresses, deadline, parts.scheme == "https")
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


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutboundError("the deadline passed")
    return left


def _resolve(host: str, port: int, deadline: float) -> list[Address]:
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=_remaining(deadline))
    except FutureTimeout:
        raise OutboundError(f"resolving {host} took too long") from None
    except OSError as error:
        raise OutboundError(f"{host} does not resolve: {error}") from None
    found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not found:
        raise OutboundError(f"{host} has no address")
    return found


class _Connection(http.client.HTTPConnection):
    """Connects to one of the checked ``addresses`` (never resolves ``host`` again), with TLS
    for ``host`` when ``tls``; every socket operation is bounded by what is left of the
    deadline."""

    def __init__(self, host: str, port: int, addresses: list[Address], deadline: float,
                 tls: bool) -> None:
        super().__init__(host, port)
        self.addresses = addresses
        self.deadline = deadline
        self.tls = tls
        if tls:
            self.default_port = 443  # no ":443" in the Host header

    def connect(self) -> None:
        error: OSError | None = None
        for address in self.addresses:
            try:
                raw = socket.create_connection((str(address), self.port),
                                               timeout=_remaining(self.deadline))
                break
            except OSError as failed:
                error = failed
        else:
            raise error or OSError("no address to connect to")
        sock: socket.socket = raw
        if self.tls:
            try:
                sock = _handshake(raw, self.host, self.deadline)
            except BaseException:
                raw.close()
                raise
        self.sock = _DeadlineSocket(sock, self.deadline)


def _handshake(raw: socket.socket, host: str, deadline: float) -> ssl.SSLSocket:
    """TLS with certificate and host name checks; the handshake too keeps the deadline."""
    context = ssl.create_default_context()
    tls = context.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
    tls.setblocking(False)
    try:
        while True:
            try:
                tls.do_handshake()
                return tls
            except ssl.SSLWantReadError:
                ready = select.select([tls], [], [], _remaining(deadline))[0]
            except ssl.SSLWantWriteError:
                ready = select.select([], [tls], [], _remaining(deadline))[1]
            if not ready:
                raise OutboundError("the TLS handshake took too long")
    except BaseException:
        tls.close()  # it owns the connection now
        raise


class _DeadlineSocket:
    """What ``http.client`` needs of a socket (``sendall``, ``makefile``, ``close``), each
    operation given only the time left; a server dripping a byte at a time cannot stretch
    the call past the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.readers = 0  # as a real socket: closed once its reader is closed too
        self.closed = False

    def _arm(self) -> None:
        self.sock.settimeout(_remaining(self.deadline))

    def sendall(self, data: Any) -> None:
        self._arm()
        self.sock.sendall(data)

    def recv_into(self, buffer: Any) -> int:
        self._arm()
        return self.sock.recv_into(buffer)

    def makefile(self, mode: str = "rb", *_args: Any, **_kwargs: Any) -> io.BufferedReader:
        self.readers += 1
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        self.closed = True
        if not self.readers:
            self.sock.close()

    def reader_closed(self) -> None:
        self.readers -= 1
        if self.closed and not self.readers:
            self.sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self.sock.reader_closed()
        super().close()
