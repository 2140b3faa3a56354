"""Every request gets an id: the one a proxy or client sent in ``X-Request-ID`` when it is
sane (``idp.request_id.sane``), else a new one. It is the current id while the application
handles the request (log lines and audit events carry it), it goes back in the response's
``X-Request-ID``, and it stays in the WSGI environ (``access_log.REQUEST_ID``) for the server's
access log line, written after the request.

The outermost layer of the application (``init_app`` is called last), so that even a request
refused before Flask reads it has its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

from idp import request_id as request_ids
from idp.web.access_log import REQUEST_ID

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_HEADER = request_ids.HEADER.lower()


class RequestIds:
    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        chosen = request_ids.from_header(environ.get("HTTP_X_REQUEST_ID"))
        environ[REQUEST_ID] = chosen

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(name, value) for name, value in headers if name.lower() != _HEADER]
            return start_response(status, [*kept, (request_ids.HEADER, chosen)], exc_info)

        token = request_ids.begin(chosen)
        try:
            return self.app(environ, start)
        finally:
            request_ids.end(token)


def init_app(app: Flask) -> None:
    """Call last, after every other module has wrapped ``app.wsgi_app``."""
    app.wsgi_app = RequestIds(app.wsgi_app)  # type: ignore[method-assign]
