"""The one place where the raw request is made fit for the application, before any of it runs:
whatever a caller sends, the answer is a clear 4xx, never a 500.

- A body over 64 KB, declared (``Content-Length``) or found while reading a chunked one (at
  most one byte past the limit is read), is replaced by an empty one: 413.
- A ``Host`` (or, behind a trusted proxy, ``X-Forwarded-Host``) that is no host name is replaced
  by the issuer's, so that the error page can still be built: 400 (RFC 9112 3.2).
- Raw bytes in the query that are not printable ASCII are percent-encoded (RFC 3986 3.4), as a
  browser would have sent them: every reader of the query then decodes the same thing.

A refused request gets its status from a ``before_request`` hook that runs before any view or
CSRF check, and its page or JSON from the one error mapping (``idp.web.errors``); nothing
after that, the error page included, can trip over the body or the host again.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask, abort, request
from werkzeug.wsgi import get_content_length

MAX_BODY = 64 * 1024
REFUSED = "campus_id.refused"  # WSGI environ key: the status a request is refused with
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# RFC 3986 3.2.2 (an IP literal or a registered name of 63-character labels), with a port.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?)(:\d{1,5})?")
_NOT_QUERY_TEXT = re.compile(r"[^\x21-\x7e]")
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


class RawRequest:
    """WSGI middleware: refuses what the application cannot read, repairs the query."""

    def __init__(self, wsgi_app: WsgiApp, *, limit: int, host: str, forwarded: bool) -> None:
        self.wsgi_app = wsgi_app
        self.limit = limit
        self.host = host
        self.forwarded = forwarded

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _too_large(environ, self.limit):
            environ[REFUSED] = 413
            environ["wsgi.input"] = io.BytesIO()
            environ["CONTENT_LENGTH"] = "0"
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        hosts = [environ.get("HTTP_HOST", self.host)]
        if self.forwarded and "HTTP_X_FORWARDED_HOST" in environ:
            hosts += environ["HTTP_X_FORWARDED_HOST"].split(",")
        if not all(_HOST.fullmatch(host.strip()) for host in hosts):
            environ.setdefault(REFUSED, 400)
            environ["HTTP_HOST"] = self.host
            environ.pop("HTTP_X_FORWARDED_HOST", None)
        query = environ.get("QUERY_STRING", "")
        if _NOT_QUERY_TEXT.search(query):
            environ["QUERY_STRING"] = quote(query.encode("latin-1", "replace"), safe=_QUERY_SAFE)
        return self.wsgi_app(environ, start_response)


def _too_large(environ: dict[str, Any], limit: int) -> bool:
    """Whether the body exceeds ``limit``. A chunked body (its length unknown until read) is
    read here, at most ``limit + 1`` bytes, and handed on as a body of known length."""
    length = get_content_length(environ)
    if length is not None:
        return length > limit
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return False
    if not environ.get("wsgi.input_terminated"):
        return False  # a server that does not end the stream: Werkzeug reads no body at all
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        return True
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return False


def init_app(app: Flask, issuer: str, *, forwarded: bool) -> None:
    """Call before any other module registers a ``before_request`` hook, after ProxyFix."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY  # Werkzeug's own check, should a body get past
    app.wsgi_app = RawRequest(app.wsgi_app, limit=MAX_BODY,  # type: ignore[method-assign]
                              host=urlsplit(issuer).netloc, forwarded=forwarded)

    @app.before_request
    def refuse_unreadable() -> None:
        status = request.environ.get(REFUSED)
        if status:
            abort(status)
