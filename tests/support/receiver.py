"""An HTTP endpoint of a relying party on a free port, in a thread, for what the provider
pushes (back-channel logout tokens, Security Event Tokens). ``up = False`` makes it answer 503,
as a receiver that is down would."""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class PushReceiver:
    def __init__(self) -> None:
        self.up = True
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{name}"

    def receive(self, request: Request) -> Response:
        """What the receiver does with a push while it is up."""
        raise NotImplementedError

    @Request.application  # type: ignore[arg-type]
    def _app(self, request: Request) -> Response:
        if not self.up:
            return Response("down", status=503)
        return self.receive(request)

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


def settled(app: Flask, timeout_s: float = 10) -> None:
    """Wait until the app's background deliverer has posted what requests handed it: pages
    answer before their back-channel tokens are delivered."""
    assert app.extensions["campus_id"].deliveries.wait_idle(timeout_s), "deliveries still running"
