"""The demo's webhook receiver: what a member's library system would run to hear of grants.

It checks every POST with the Standard Webhooks library (``standardwebhooks``), never code of
the provider's own: a bad or missing signature, or a stale timestamp, is answered 401; a message
whose ``webhook-id`` it already has is answered 200 and not recorded again (a retry of a
delivery whose answer was lost); every new one is kept in memory, appended to a JSON-lines log
and, in the demo, printed. ``GET /`` lists what it received, newest first.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

PATH = "/campus-id/webhook"
MAX_BODY = 64 * 1024


def new_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclass(frozen=True)
class Received:
    """One verified message, as the receiver saw it."""

    webhook_id: str
    type: str
    resource: str
    campus_id: str
    name: str | None
    state: str
    until: str | None
    body: dict[str, Any]

    def line(self) -> str:
        """How the demo prints it: ``access.granted library -> 123456789 (Anna) active``."""
        until = f" until {self.until}" if self.until else ""
        who = f" ({self.name})" if self.name else ""
        return (f"webhook {self.webhook_id}: {self.type} {self.resource} -> "
                f"{self.campus_id}{who} {self.state}{until}")


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: the receiver prints what it received instead."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WebhookReceiver:
    """A threaded HTTP server on loopback that verifies, records and logs webhook messages."""

    def __init__(self, secret: str, *, port: int = 0, log_path: Path | None = None,
                 echo: Callable[[str], None] | None = None) -> None:
        self._webhook = Webhook(secret)
        self._port = port
        self._log_path = log_path
        self._echo = echo
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._seen: set[str] = set()
        self.refused = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the receiver is not running")
        return f"http://127.0.0.1:{self._server.server_port}{PATH}"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def start(self) -> WebhookReceiver:
        self._server = make_server("127.0.0.1", self._port, self.wsgi, threaded=True,
                                   request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.method == "GET" and request.path == "/":
            response = self._listing()
        elif request.path != PATH:
            response = Response("not found\n", 404, mimetype="text/plain")
        elif request.method != "POST":
            response = Response("POST only\n", 405, mimetype="text/plain", headers={"Allow": "POST"})
        else:
            response = self._receive(request)
        return response(environ, start_response)

    def _receive(self, request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY:
            return Response("too large\n", 413, mimetype="text/plain")
        body = request.get_data(cache=False)
        try:
            payload = self._webhook.verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError) as error:
            with self._lock:
                self.refused += 1
            return Response(f"refused: {error}\n", 401, mimetype="text/plain")
        webhook_id = request.headers["webhook-id"]
        with self._lock:
            if webhook_id in self._seen:
                return Response("already received\n", 200, mimetype="text/plain")
            self._seen.add(webhook_id)
            message = _message(webhook_id, payload)
            self._received.append(message)
            if self._log_path is not None:
                with self._log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(asdict(message), ensure_ascii=False) + "\n")
        if self._echo is not None:
            self._echo(message.line())
        return Response("received\n", 200, mimetype="text/plain")

    def _listing(self) -> Response:
        newest_first = [asdict(m) for m in reversed(self.received)]
        text = json.dumps(newest_first, ensure_ascii=False, indent=2)
        return Response(text + "\n", 200, mimetype="application/json")


def _message(webhook_id: str, payload: Any) -> Received:
    data = _table(payload)
    grant, person = _table(data.get("grant")), _table(data.get("person"))
    return Received(webhook_id=webhook_id, type=str(data.get("type")),
                    resource=str(data.get("resource")), campus_id=str(person.get("campus_id")),
                    name=person.get("name"), state=str(grant.get("state")),
                    until=grant.get("until"), body=data)


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
