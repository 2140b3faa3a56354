"""What the access log may tell about a request: method, path without its query, the client it
names, status; never a query string, a header value or a body, where authorization codes,
tokens, ``id_token_hint``s and request objects travel.

The application names the client in the WSGI environ (``CLIENT``) and keeps the request's id
there (``REQUEST_ID``, see ``idp.web.request_id``). ``AccessLogged``, around the application
under every engine (``idp.web.serve``), writes one line per request through Python logging
(logger ``idp.access``) with them and ``log_path``, so that it takes the configured format:
with ``[logging] format = "json"`` one JSON object with ``remote``, ``method``, ``path``,
``status``, ``bytes``, ``duration_ms``, ``client`` and ``request_id`` fields; in text, the
request id in brackets as on every other line. All are made printable first: a log line is
one line, whatever a caller sent.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from idp import logs
from idp.logs import scrub

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CLIENT = "campus_id.client_id"  # WSGI environ key: the client_id the request names
REQUEST_ID = "campus_id.request_id"  # WSGI environ key: the request's id (idp.web.request_id)
MAX_CLIENT = 64
MAX_PATH = 200
_PLAIN = re.compile(r"[\x21-\x7e]*")


def printable(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, with anything but printable ASCII escaped."""
    text = value[:limit]
    if _PLAIN.fullmatch(text):  # the usual case, without a look at each character
        return text
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if " " < c < "\x7f" else f"\\x{ord(c):02x}" for c in text)


def log_path(environ: dict[str, Any]) -> str:
    """The path as sent (still percent-encoded), without query or fragment."""
    target = environ.get("RAW_URI") or environ.get("PATH_INFO") or "/"
    return printable(target.split("?", 1)[0].split("#", 1)[0], MAX_PATH)


def named_client() -> str | None:
    """The client_id the query, the form or HTTP Basic names; not checked (the log shows what
    was claimed), and never the secret next to it."""
    value = request.args.get("client_id")
    if not value and request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        try:
            value = request.form.get("client_id")  # usually parsed by the view already
        except HTTPException:  # a body that could not be read: nothing to name
            value = None
    return value or basic_user(request.headers.get("Authorization", ""))


def basic_user(authorization: str) -> str | None:
    """The user (client_id) of an HTTP Basic ``Authorization`` header, unchecked."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip()).decode("utf-8")
    except ValueError:
        return None
    return unquote(decoded.partition(":")[0]) or None


def init_app(app: Flask) -> None:
    @app.after_request
    def name_client(response: Response) -> Response:
        client = named_client()
        if client:
            request.environ[CLIENT] = printable(client, MAX_CLIENT)
        return response


ACCESS_LOG = logging.getLogger("idp.access")


def access_fields(environ: dict[str, Any], status: str, size: int, duration_ms: int) -> dict[str, Any]:
    """What one access log line holds, each value printable: never a query string, a header or
    a body."""
    return {
        "remote": printable(str(environ.get("REMOTE_ADDR") or "-"), 64),
        "method": scrub(printable(str(environ.get("REQUEST_METHOD") or "-"), 16)),
        "path": scrub(log_path(environ)),
        "status": printable(status, 3),
        "bytes": size,
        "duration_ms": duration_ms,
        "client": scrub(environ.get(CLIENT) or "-"),
        "request_id": environ.get(REQUEST_ID) or "-",
    }


def log_access(environ: dict[str, Any], status: str, size: int, duration_ms: int) -> None:
    fields = access_fields(environ, status, size, duration_ms)
    message = (f'{fields["remote"]} "{fields["method"]} {fields["path"]}" {fields["status"]} '
               f'{size} {duration_ms}ms client={fields["client"]}')
    if logs.access(message, fields):
        return
    ACCESS_LOG.info('%s "%s %s" %s %s %dms client=%s', fields["remote"], fields["method"],
                    fields["path"], fields["status"], size, duration_ms, fields["client"],
                    extra=fields)


WHOLE_MAX = 1024 * 1024  # an answer of declared length up to this goes to the server whole


class AccessLogged:
    """WSGI middleware: one access log line per request through ``log_access``.

    An answer of declared length (every answer Flask and the lanes make) is collected here
    and handed to the server as one list: granian then writes its head and body together
    (an iterator's head goes out first, its body after, and a server killed in between leaves
    a proxy holding half an answer it can no longer resend) and needs no Python call per
    chunk. Its line is written once the answer is ready. Any other answer (no length, or over
    ``WHOLE_MAX``) streams, its line written when the server closes it (its whole body sent,
    or the client gone)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        status = ["-"]
        length: list[int | None] = [None]

        def start(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = code.split(" ", 1)[0]
            length[0] = declared_length(headers)
            return start_response(code, headers, exc_info)

        def done(size: int) -> None:
            log_access(environ, status[0], size, int((time.monotonic() - started) * 1000))

        try:
            body = self.app(environ, start)
        except BaseException:  # the server answers 500 itself: the line says so
            status[0] = "500"
            done(0)
            raise
        if length[0] is None or length[0] > WHOLE_MAX:
            return _Counted(body, done)
        try:
            chunks = body if isinstance(body, list) else list(body)
        except BaseException:
            status[0] = "500"
            _close(body, lambda: done(0))
            raise
        _close(body, lambda: done(sum(map(len, chunks))))
        return chunks


def declared_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else None
    return None


def _close(body: Iterable[bytes], then: Callable[[], None]) -> None:
    """``body.close()`` as the WSGI server would call it (a Flask answer's teardown), then
    ``then``, even if closing failed."""
    try:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    finally:
        then()


class _Counted:
    """A response body that counts its bytes and reports once when closed."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body, self.done, self.size = body, done, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk

    def close(self) -> None:
        _close(self.body, lambda: self.done(self.size))
