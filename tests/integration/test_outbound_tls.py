"""idp.oidc.outbound over TLS against real servers on loopback: the certificate and host name are
checked, and a server that accepts the connection and then stalls the handshake (or drips its
answer) cannot hold the call past the deadline."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from demo.tls import write_self_signed
from idp.oidc.outbound import OutboundError, call
from idp.settings.model import OutboundSettings

LIMITS = OutboundSettings(timeout_s=2, allow_private=True)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return write_self_signed(tmp_path)


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'["https://rp.example.org/cb"]'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/sector.json"
    httpd.shutdown()
    httpd.server_close()


def test_a_trusted_certificate_is_accepted(https_server: str, certificate: tuple[Path, Path],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    answer = call("GET", https_server, LIMITS)
    assert answer.status == 200 and answer.body == b'["https://rp.example.org/cb"]'
    localhost = https_server.replace("127.0.0.1", "localhost")
    assert call("GET", localhost, LIMITS).status == 200  # the name checked is the URL's


def test_an_untrusted_certificate_is_refused(https_server: str) -> None:
    with pytest.raises(OutboundError) as refused:
        call("GET", https_server, LIMITS)
    assert "CERTIFICATE_VERIFY_FAILED" in refused.value.detail


def test_a_stalled_handshake_ends_at_the_deadline() -> None:
    """The server accepts the connection and never answers the ClientHello."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(OutboundError):
            call("GET", f"https://127.0.0.1:{listener.getsockname()[1]}/", LIMITS)
        assert time.monotonic() - started < LIMITS.timeout_s + 1
    finally:
        for sock in accepted:
            sock.close()
        listener.close()
