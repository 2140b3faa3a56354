"""One HTTP request with a total deadline, for connectors.

``requests`` and ``urllib3`` only bound each socket operation, so a server that drips its
headers a byte at a time can hold a call for ever; here name resolution, connection, TLS
handshake, sending and every read share one deadline. Redirects are never followed, no proxy
is used and nothing is read from the environment but the system's trusted certificates. At
most ``keep_bytes`` of the answer's body are read: a connector needs its start for an error
message, never more. Failures raise ``OSError`` (``TimeoutError`` when the deadline passed),
``http.client.HTTPException`` or ``ValueError`` (an address that is no http(s) URL).
"""

from __future__ import annotations

import http.client
import io
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

# Name resolution has no timeout of its own: it runs here and is waited for until the deadline.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="connector-dns")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body_start: bytes  # at most keep_bytes


def request(method: str, url: str, *, body: bytes, headers: Mapping[str, str], timeout_s: float,
            keep_bytes: int = 4096) -> Answer:
    """Send one request and read its answer, all within ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an absolute http(s) URL")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    addresses = _resolve(parts.hostname, port, deadline)
    conn = Connection(parts.hostname, port, addresses, deadline, tls)
    response: http.client.HTTPResponse | None = None
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers={"Connection": "close", **headers})
        response = conn.getresponse()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
        data = bytearray()
        try:
            while len(data) < keep_bytes and (chunk := response.read(keep_bytes - len(data))):
                data.extend(chunk)
        except (OSError, http.client.HTTPException):
            pass  # the status has come; a body cut short only shortens the message
        return Answer(response.status, answer_headers, bytes(data))
    finally:
        if response is not None:
            response.close()
        conn.close()


def remaining(deadline: float) -> float:
    """Seconds left before ``deadline`` (on ``time.monotonic``), or ``TimeoutError``."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed")
    return left


def _resolve(host: str, port: int, deadline: float) -> list[str]:
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=remaining(deadline))
    except FutureTimeout:
        raise TimeoutError(f"resolving {host} took too long") from None
    found = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not found:
        raise OSError(f"{host} has no address")
    return found


class Connection(http.client.HTTPConnection):
    """Connects to the resolved ``addresses`` in turn, never resolving ``host`` again (TLS for
    ``host`` when ``tls``); every socket operation is given only what is left of the deadline.
    The provider's own outbound calls (``idp.oidc.outbound``) use it too, with addresses they
    checked."""

    def __init__(self, host: str, port: int, addresses: list[str], deadline: float,
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
                raw = socket.create_connection((address, self.port), timeout=remaining(self.deadline))
                break
            except OSError as failed:
                error = failed
        else:
            raise error or OSError("no address to connect to")
        sock: socket.socket = raw
        if self.tls:
            try:
                sock = handshake(raw, self.host, self.deadline)
            except BaseException:
                raw.close()
                raise
        self.sock = DeadlineSocket(sock, self.deadline)


def handshake(raw: socket.socket, host: str, deadline: float) -> ssl.SSLSocket:
    """TLS with certificate and host name checks, itself within the deadline."""
    tls = ssl.create_default_context().wrap_socket(raw, server_hostname=host,
                                                   do_handshake_on_connect=False)
    tls.setblocking(False)
    try:
        while True:
            try:
                tls.do_handshake()
                return tls
            except ssl.SSLWantReadError:
                ready = select.select([tls], [], [], remaining(deadline))[0]
            except ssl.SSLWantWriteError:
                ready = select.select([], [tls], [], remaining(deadline))[1]
            if not ready:
                raise TimeoutError("the TLS handshake took too long")
    except BaseException:
        tls.close()  # it owns the connection now
        raise


class DeadlineSocket:
    """What ``http.client`` uses of a socket (``sendall``, ``makefile``, ``close``), each
    operation armed with the time left, so no drip of bytes stretches the call."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.readers = 0  # as a real socket: closed once its reader is closed too
        self.closed = False

    def sendall(self, data: Any) -> None:
        self.sock.settimeout(remaining(self.deadline))
        self.sock.sendall(data)

    def recv_into(self, buffer: Any) -> int:
        self.sock.settimeout(remaining(self.deadline))
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
    def __init__(self, sock: DeadlineSocket) -> None:
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self.sock.reader_closed()
        super().close()
