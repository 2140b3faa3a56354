"""What the access log may tell about a request: method, path without its query, the client it
names, status; never a query string, a header value or a body, where authorization codes,
tokens, ``id_token_hint``s and request objects travel.

The application names the client in the WSGI environ (``CLIENT``); the server's access log
(``idp.web.serve``) prints it with ``log_path``. Both are made printable first: a log line is one
line, whatever a caller sent.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

CLIENT = "campus_id.client_id"  # WSGI environ key: the client_id the request names
MAX_CLIENT = 64
MAX_PATH = 200


def printable(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, with anything but printable ASCII escaped."""
    text = value[:limit].encode("ascii", "backslashreplace").decode("ascii")
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
    return value or _basic_user()


def _basic_user() -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
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
