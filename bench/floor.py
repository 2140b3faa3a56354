"""Apps that do nothing, served exactly as the provider is (gunicorn, gthread, the same
workers, threads and access log): their rates are the most any endpoint could reach here, so
the table can be read as a fraction of them. ``app`` is bare WSGI; ``flask_app`` is one Flask
route, the framework every endpoint of the provider runs in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response

BODY = b'{"ok":true}'


def app(_environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


flask_app = Flask(__name__)


@flask_app.get("/")
def nothing() -> Response:
    return Response(BODY, mimetype="application/json")
