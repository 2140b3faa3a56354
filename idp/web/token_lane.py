"""The token endpoint's fast lane: a service's usual client credentials request answered as a
WSGI call, before Flask builds a request (``idp.oidc.service_tokens`` says which requests and
why). Every other request, and every one the lane declines, goes on to Flask untouched: a body
the lane read is handed on as it came.

The innermost WSGI layer (inside ProxyFix, so the scheme and host are the public ones), so the
layers around the application still apply to a lane answer: the request id, the security
headers, the refusal of an oversized body (a refused request never takes the lane), the access
line (which names the client). The request is timed and counted under the token endpoint's
name, as Flask's hooks count it (``idp.metrics.web``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING

from flask import Flask

from idp import context
from idp.metrics import web as metrics_web
from idp.oidc import service_tokens
from idp.web.access_log import CLIENT, MAX_CLIENT, printable
from idp.web.raw_request import MAX_BODY, REFUSED

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from idp.oidc.server import CampusAuthorizationServer

PATH = "/token"
FORM = "application/x-www-form-urlencoded"


class TokenLane:
    """WSGI middleware: answers the usual client credentials request itself."""

    def __init__(self, app: WSGIApplication, flask_app: Flask,
                 server: CampusAuthorizationServer) -> None:
        self.app = app
        self.flask_app = flask_app
        self.server = server
        self.services = context.services_of(flask_app)
        self.metrics = self.services.settings.metrics.enabled

    @cached_property
    def endpoint(self) -> str:
        """The token view's endpoint name, as Flask's hooks count it (routes are registered
        after the lane is put in place)."""
        endpoint, _ = self.flask_app.url_map.bind("localhost").match(PATH, method="POST")
        return str(endpoint)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "POST"
                and environ.get("CONTENT_TYPE") == FORM and not environ.get("QUERY_STRING")
                and REFUSED not in environ
                and environ.get("HTTP_AUTHORIZATION", "")[:6].lower() == "basic "):
            answered = self._answer(environ, start_response)
            if answered is not None:
                return answered
        return self.app(environ, start_response)

    def _answer(self, environ: WSGIEnvironment,
                start_response: StartResponse) -> Iterable[bytes] | None:
        started = time.perf_counter()
        body = _body(environ)
        if body is None:
            return None
        answer = service_tokens.issue(
            self.server, self.services, scheme=environ.get("wsgi.url_scheme", "http"),
            host=environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
            authorization=environ["HTTP_AUTHORIZATION"], body=body)
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it as it came
            return None
        environ[CLIENT] = printable(answer.client_id, MAX_CLIENT)
        start_response("200 OK", [*answer.headers, ("Content-Length", str(len(answer.body)))])
        if self.metrics:
            metrics_web.observe(self.endpoint, 200, started)
        return [answer.body]


def _body(environ: WSGIEnvironment) -> bytes | None:
    """The whole body when its length is given and small enough to be a token request."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    body: bytes = environ["wsgi.input"].read(length)
    if len(body) != length:  # the client went away mid-body: Flask's path says what it says
        environ["wsgi.input"] = io.BytesIO(body)
        return None
    return body


def init_app(app: Flask, server: CampusAuthorizationServer) -> None:
    """Call before ProxyFix wraps ``app.wsgi_app``: the lane must see the public scheme and
    host as Flask would."""
    app.wsgi_app = TokenLane(app.wsgi_app, app, server)  # type: ignore[method-assign]
