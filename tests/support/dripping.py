"""A remote server at its slowest: on 127.0.0.1, it answers any request with a status line and
then drips the rest of a valid answer one byte every ``interval_s`` seconds, as a client's
jwks_uri, sector_identifier_uri or back-channel receiver could. It counts the requests it got."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class DrippingServer:
    def __init__(self, body: bytes = b'{"keys": []}', interval_s: float = 1.0) -> None:
        self.body = body
        self.interval_s = interval_s
        self.hits = 0
        self.closing = threading.Event()
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server.hits += 1
                self.request.recv(65536)  # the request: small, sent at once
                head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(server.body)).encode() + b"\r\n\r\n")
                self.request.sendall(head[:17])
                for byte in head[17:] + server.body:
                    if server.closing.wait(server.interval_s):
                        return
                    try:
                        self.request.sendall(bytes([byte]))
                    except OSError:
                        return  # the provider gave up and hung up

        socketserver.ThreadingTCPServer.daemon_threads = True
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.tcp.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.tcp.server_address[1]}{path}"

    def close(self) -> None:
        self.closing.set()
        self.tcp.shutdown()
        self.tcp.server_close()


@contextmanager
def dripping_server(body: bytes = b'{"keys": []}', interval_s: float = 1.0,
                    ) -> Iterator[DrippingServer]:
    server = DrippingServer(body, interval_s)
    try:
        yield server
    finally:
        server.close()


def elapsed(since: float) -> float:
    return time.monotonic() - since
