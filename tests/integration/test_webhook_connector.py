"""The webhook connector against real HTTP receivers on 127.0.0.1: every post is checked with the
Standard Webhooks project's own library, as a receiver would, and each way a receiver can
answer (or not answer) becomes delivered, ``RetryLater`` or ``NeverWorks``."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from connectors.base import Delivery, DeliveryKind, NeverWorks, RetryLater
from connectors.registry import CONNECTOR_TYPES
from connectors.webhook import WebhookConnector
from demo.tls import write_self_signed
from tests.support.dripping import dripping_server
from tests.support.hanging import hanging_proxy

SECRET = "whsec_" + base64.b64encode(bytes(range(7, 39))).decode()
DELIVERY = Delivery(
    key="job-42-7f3a", kind=DeliveryKind.GRANT, resource="library",
    grant={"state": "active", "since": "2026-09-01T08:00:00+00:00", "until": None},
    person={"campus_id": "123456782", "sub": "Zx81", "name": "Иван Сидоров",
            "email": "ivan@tsu.ru", "organizations": ["tsu"], "affiliations": ["student@tsu.ru"]})
# What each path of the receiver answers: status, body, extra headers.
ANSWERS: dict[str, tuple[int, bytes, dict[str, str]]] = {
    "/ok": (204, b"", {}),
    "/accepted": (202, b"queued", {}),
    "/down": (500, b"database is down", {}),
    "/nowhere": (404, b'{"error": "no such hook", "detail": "' + b"x" * 500 + b'"}', {}),
    "/busy": (429, b"slow down", {"Retry-After": "7"}),
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    verified: Any  # the body as the library read it after checking the signature


class Receiver:
    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                verified = Webhook(SECRET).verify(body, headers)  # raises on a bad signature
                receiver.received.append(Received(self.path, headers, verified))
                status, answer, extra = ANSWERS[self.path]
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def connector(url: str, timeout_s: float = 5) -> WebhookConnector:
    options = {"url": url, "secret": SECRET, "timeout_s": timeout_s}
    made = CONNECTOR_TYPES["webhook"].create("library_hook", options)
    assert isinstance(made, WebhookConnector)
    return made


def test_a_2xx_is_delivered_signed_as_the_specification_says(receiver: Receiver) -> None:
    connector(receiver.url("/ok")).deliver(DELIVERY, deadline_s=5)
    [got] = receiver.received
    assert got.verified == {"type": "access.granted", "resource": "library",
                            "grant": dict(DELIVERY.grant), "person": dict(DELIVERY.person)}
    assert got.headers["webhook-id"] == "job-42-7f3a"
    assert got.headers["webhook-timestamp"].isdigit()
    assert got.headers["Content-Type"] == "application/json"
    connector(receiver.url("/accepted")).deliver(DELIVERY, deadline_s=5)  # any 2xx


def test_a_retry_carries_the_same_webhook_id(receiver: Receiver) -> None:
    hook = connector(receiver.url("/ok"))
    revoke = Delivery(key="job-43-11aa", kind=DeliveryKind.REVOKE, resource="library",
                      grant={"state": "ended", "since": "2026-09-01", "until": "2026-12-01"},
                      person=DELIVERY.person)
    for delivery in (revoke, revoke):
        hook.deliver(delivery, deadline_s=5)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "job-43-11aa"
    assert first.verified == second.verified
    assert first.verified["type"] == "access.revoked"


def test_a_500_is_retried_later(receiver: Receiver) -> None:
    with pytest.raises(RetryLater) as raised:
        connector(receiver.url("/down")).deliver(DELIVERY, deadline_s=5)
    assert str(raised.value) == "HTTP 500: database is down"
    assert raised.value.retry_after_s is None
    assert len(receiver.received) == 1  # it was sent, signed, and refused


def test_a_404_never_works_and_keeps_the_start_of_the_answer(receiver: Receiver) -> None:
    with pytest.raises(NeverWorks) as raised:
        connector(receiver.url("/nowhere")).deliver(DELIVERY, deadline_s=5)
    message = str(raised.value)
    assert message.startswith('HTTP 404: {"error": "no such hook", "detail": "xxx')
    assert len(message) == len("HTTP 404: ") + 200


def test_a_429_asks_for_its_wait(receiver: Receiver) -> None:
    with pytest.raises(RetryLater) as raised:
        connector(receiver.url("/busy")).deliver(DELIVERY, deadline_s=5)
    assert str(raised.value) == "HTTP 429: slow down"
    assert raised.value.retry_after_s == 7


def test_a_receiver_that_never_answers_is_retried_later() -> None:
    with hanging_proxy() as silent, pytest.raises(RetryLater) as raised:
        connector(f"http://127.0.0.1:{silent.port}/hook").deliver(DELIVERY, deadline_s=0.5)
    assert str(raised.value) == "no answer within 0.5 s"  # the deadline given, under timeout_s


def test_a_receiver_that_drips_its_answer_cannot_hold_the_call() -> None:
    """Each byte comes well within the timeout; only a total deadline ends the call."""
    with dripping_server(interval_s=0.2) as slow, pytest.raises(RetryLater, match="no answer"):
        connector(slow.url("/hook"), timeout_s=0.6).deliver(DELIVERY, deadline_s=30)


def test_a_refused_connection_is_retried_later() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens there once it is closed
    with pytest.raises(RetryLater, match="connection refused"):
        connector(f"http://127.0.0.1:{port}/hook").deliver(DELIVERY, deadline_s=5)


def test_https_with_a_trusted_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = write_self_signed(tmp_path)
    server = Receiver(tls=certificate)
    try:
        with pytest.raises(RetryLater, match="CERTIFICATE_VERIFY_FAILED"):
            connector(server.url("/ok")).deliver(DELIVERY, deadline_s=5)
        assert server.received == []
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        connector(server.url("/ok")).deliver(DELIVERY, deadline_s=5)
        assert server.received[0].verified["resource"] == "library"
    finally:
        server.close()
