"""gunicorn's threaded worker, changed so that slow clients cannot starve it: a connection
reaches a worker thread only once its whole request has arrived.

gunicorn's own ``gthread`` worker gives a connection a thread as soon as its first bytes
arrive, and the thread then waits for the rest: a few hundred connections sending their
headers a byte at a time hold every thread, and every login waits. Here the worker's event
loop, which already waits on every socket without a thread, also completes the TLS handshake
and reads the request head and a body of declared length (up to the application's own body
limit) without blocking; only then does the connection go to the thread pool, with those bytes
handed to gunicorn's parser first. A request that is not whole within ``WHOLE_REQUEST_S`` is
dropped. Keep-alive connections go through the same wait for each next request.

Requests nginx or another buffering proxy sends are whole anyway; this matters when the
provider serves https itself (docs/operations.md, "Slow clients").
"""

from __future__ import annotations

import errno
import selectors
import ssl
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.sock import ssl_context
from gunicorn.workers.gthread import TConn, ThreadWorker

from idp.web.raw_request import MAX_BODY

WHOLE_REQUEST_S = 10.0  # the handshake, headers and body must all arrive within this
MAX_HEAD = 64 * 1024  # a longer head goes to gunicorn's parser, which refuses it
_CHUNK = 64 * 1024


class PrefixedSocket:
    """A socket whose next reads return the bytes the event loop already read, then its own."""

    def __init__(self, sock: Any) -> None:
        self.raw = sock
        self.pending = b""

    def recv(self, size: int, *args: Any) -> bytes:
        if self.pending:
            out, self.pending = self.pending[:size], self.pending[size:]
            return out
        return bytes(self.raw.recv(size, *args))

    def __getattr__(self, name: str) -> Any:  # sendall, close, fileno, setblocking, ...
        return getattr(self.raw, name)


@dataclass
class _Arriving:
    deadline: float
    handshaken: bool
    data: bytearray = field(default_factory=bytearray)


class WholeRequestWorker(ThreadWorker):  # type: ignore[misc]
    """``gthread`` with whole requests only (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: dict[TConn, _Arriving] = {}
        self.tls: ssl.SSLContext | None = None  # made once (gunicorn makes one per connection)

    def accept(self, listener: Any) -> None:
        try:
            sock, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, sock, address, listener.getsockname())  # non-blocking
        if self.cfg.is_ssl:
            if self.tls is None:
                self.tls = ssl_context(self.cfg)
            conn.sock = self.tls.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False,
                suppress_ragged_eofs=self.cfg.suppress_ragged_eofs)
        conn.sock = PrefixedSocket(conn.sock)
        conn.initialized = True  # the TLS layer is in place: TConn.init must not wrap again
        conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        self._wait_for_request(conn, handshaken=not self.cfg.is_ssl)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection sends its next request: wait for all of it too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._wait_for_request(conn, handshaken=True)

    def _wait_for_request(self, conn: TConn, *, handshaken: bool) -> None:
        conn.sock.setblocking(False)
        self.arriving[conn] = _Arriving(time.monotonic() + WHOLE_REQUEST_S, handshaken)
        self._on_bytes(conn, registered=False)  # often all there already: no wait at all

    def _on_readable(self, conn: TConn, _client: Any) -> None:
        self._on_bytes(conn, registered=True)

    def _on_bytes(self, conn: TConn, *, registered: bool) -> None:
        state = self.arriving[conn]
        raw = conn.sock.raw
        try:
            if not state.handshaken:
                raw.do_handshake()
                state.handshaken = True
            while len(state.data) <= MAX_HEAD + MAX_BODY:
                chunk = raw.recv(_CHUNK)
                if not chunk:  # the client went away
                    self._drop(conn)
                    return
                state.data += chunk
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            pass  # nothing more for now
        except OSError:  # ssl.SSLError included: a failed handshake, a reset
            self._drop(conn)
            return
        if not _whole(state.data):
            if not registered:
                self.poller.register(conn.sock, selectors.EVENT_READ,
                                     partial(self._on_readable, conn))
            return
        if registered:
            self.poller.unregister(conn.sock)
        del self.arriving[conn]
        conn.sock.pending = bytes(state.data)
        conn.data_ready = True
        self.enqueue_req(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, state in self.arriving.items() if state.deadline < now]:
            self._drop(conn)

    def _drop(self, conn: TConn) -> None:
        del self.arriving[conn]
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.nr_conns -= 1
        conn.close()


def _whole(data: bytearray) -> bool:
    """Whether ``data`` holds a request head and the body it declares (or as much of it as the
    application reads before refusing it); a head too long, a chunked body, or one awaited
    behind ``Expect: 100-continue``, goes on as it is, for gunicorn's parser to refuse or
    read."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > MAX_HEAD
    length = 0
    for line in bytes(data[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding":
            return True
        if name == b"expect":  # the client sends its body after gunicorn's 100 Continue
            return True
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return True  # the parser answers 400
    return len(data) - (end + 4) >= min(length, MAX_BODY + 1)
