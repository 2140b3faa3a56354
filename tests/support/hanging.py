"""A TCP address on 127.0.0.1 in front of a real server that can hang: while ``hanging``, it
accepts connections and never says a word (as a replica or a Redis stuck in a long pause
does, which costs a caller its whole timeout, unlike a refused connection); otherwise it
passes bytes both ways. It counts what it passed to the server."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class HangingProxy:
    def __init__(self, upstream: tuple[str, int] | None = None, *, hanging: bool = True) -> None:
        self.upstream = upstream
        self.hanging = hanging
        self.forwarded_bytes = 0
        self._held: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def answer(self) -> None:
        """From now on, new connections reach the server (held ones stay silent)."""
        assert self.upstream is not None
        self.hanging = False

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._held.append(conn)
            if not self.hanging and self.upstream is not None:
                server = socket.create_connection(self.upstream)
                self._held.append(server)
                threading.Thread(target=self._pump, args=(conn, server, True), daemon=True).start()
                threading.Thread(target=self._pump, args=(server, conn, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, upward: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if upward:
                    self.forwarded_bytes += len(data)
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._listener.close()
        for conn in self._held:
            conn.close()


@contextmanager
def hanging_proxy(upstream: tuple[str, int] | None = None) -> Iterator[HangingProxy]:
    proxy = HangingProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
