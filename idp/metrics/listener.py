"""``/metrics`` on a separate address (``[metrics] listen``), served by a thread of the process
that runs ``idp serve`` (the worker processes' parent), from the shared directory: the worker
that answers the provider's port is not involved. The bearer token, when set, is asked here
too. Its own small database engine reads the delivery queue."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from idp.metrics.bearer import bearer_matches
from idp.metrics.collectors import DeliveryQueue, scrape
from idp.settings import Settings
from idp.settings.metrics import listen_address
from idp.storage.base import make_engine

log = logging.getLogger(__name__)
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not worth a log line each."""


def metrics_app(settings: Settings) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    engine = make_engine(settings.database.url)
    # Workers forked later must not touch (or close) this process's pooled connections.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    queue = DeliveryQueue(engine, settings.connectors)
    token = settings.metrics.token

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in ("/metrics", "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found: the metrics are at /metrics.\n"]
        if token and not bearer_matches(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                ("WWW-Authenticate", 'Bearer realm="metrics"')])
            return [b"A bearer token is required.\n"]
        body, content_type = scrape(queue)
        start_response("200 OK", [("Content-Type", content_type), ("Cache-Control", "no-store")])
        return [body]

    return app


def start_listener(settings: Settings) -> WSGIServer:
    """Serve until the process exits (a daemon thread); returns the server (its port)."""
    address = listen_address(settings.metrics.listen)
    assert address is not None  # validated with the settings
    kind = _Server6 if ":" in address[0] else _Server
    server = make_server(address[0], address[1], metrics_app(settings), kind, _QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-listener", daemon=True).start()
    log.info("metrics served at http://%s/metrics", settings.metrics.listen)
    return server
