"""Fast lanes: the few requests that come by the thousand and need nothing of Flask, answered as
WSGI calls before Flask builds a request. Each lane answers the same bytes and headers its
view would (tests/flows/test_lanes.py compares them); a request a lane declines goes on to
Flask untouched, a body the lane read handed on as it came.

- ``POST /token``: a service's usual client credentials request (``idp.oidc.service_tokens``
  says which requests and why), then a confidential client's usual refresh
  (``idp.oidc.refresh_requests``), each from the request's raw parts with no Flask object;
- ``POST /introspect``: a resource server's usual request (``idp.oidc.basic_introspection``);
- ``GET /userinfo`` with the bearer token in the header (``idp.oidc.userinfo``): the claims,
  on one pooled connection; a refusal goes to Flask, which says it;
- ``GET /.well-known/openid-configuration`` and ``GET /jwks``: documents that change with the
  issuer or the signing keys alone.

The innermost WSGI layer (inside ProxyFix, so the scheme and host are the public ones), so the
layers around the application still apply to a lane's answer: the request id, the security
headers, the refusal of an oversized body or a bad host (a refused request never takes a
lane), the access line (which names the client). An answer is timed and counted under its
view's endpoint name, as Flask's hooks count it (``idp.metrics.web``).

The introspection lane runs in an application context (``idp.context``'s database session and
remembered clients, closed as its view does) with a plain request object over the environ: no
request context, no routing, no hooks, no session cookie. Should it or the refresh lane fail,
the request goes to Flask as if the lane had not been there (its transaction rolled back), and
the one error mapping answers it.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, Request, Response
from sqlalchemy.orm import Session
from werkzeug.http import parse_cookie

from idp import context
from idp.metrics import web as metrics_web
from idp.oidc import basic_introspection, code_requests, refresh_requests, service_tokens
from idp.oidc.basic_clients import Issued
from idp.oidc.userinfo import Refused
from idp.oidc.userinfo import claims as userinfo_claims
from idp.web.access_log import CLIENT, MAX_CLIENT, basic_user, printable
from idp.web.raw_request import MAX_BODY, REFUSED

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from idp.oidc.server import CampusAuthorizationServer

log = logging.getLogger(__name__)
FORM = "application/x-www-form-urlencoded"
DISCOVERY = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    client_id: str | None = None


Lane = Callable[["WSGIEnvironment"], Answer | None]


class Lanes:
    """WSGI middleware: a lane per (method, path), tried before the application."""

    def __init__(self, app: WSGIApplication, flask_app: Flask,
                 lanes: dict[tuple[str, str], Lane]) -> None:
        self.app = app
        self.flask_app = flask_app
        self.lanes = lanes
        self.metrics = context.services_of(flask_app).settings.metrics.enabled
        self._endpoints: dict[tuple[str, str], str] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        key = (environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        lane = self.lanes.get(key)
        if lane is not None and REFUSED not in environ:
            started = time.perf_counter()
            answer = lane(environ)
            if answer is not None:
                if answer.client_id:
                    environ[CLIENT] = printable(answer.client_id, MAX_CLIENT)
                start_response(answer.status, [*answer.headers, *(
                    [] if any(name == "Content-Length" for name, _ in answer.headers)
                    else [("Content-Length", str(len(answer.body)))])])
                if self.metrics:
                    metrics_web.observe(self._endpoint(key), int(answer.status[:3]), started)
                return [answer.body]
        return self.app(environ, start_response)

    def _endpoint(self, key: tuple[str, str]) -> str:
        """The view's endpoint name, as Flask's hooks count it (routes are registered after
        the lanes are put in place)."""
        if key not in self._endpoints:
            endpoint, _ = self.flask_app.url_map.bind("localhost").match(key[1], method=key[0])
            self._endpoints[key] = str(endpoint)
        return self._endpoints[key]


def service_token(server: CampusAuthorizationServer, services: context.Services) -> Lane:
    return raw_token(lambda **parts: service_tokens.issue(server, services, **parts))


def refresh_token(server: CampusAuthorizationServer, services: context.Services) -> Lane:
    return raw_token(lambda **parts: refresh_requests.issue(server, services, **parts))


def code_token(flask_app: Flask, server: CampusAuthorizationServer,
               services: context.Services) -> Lane:
    """The code exchange (``idp.oidc.code_requests``). A request that carries the browser's
    cookies (a relying party in the person's browser, a test's browser) gets the session
    cookie Flask's session handling would set: the same session interface opens it before
    the exchange and saves it on the same response object, so a permanent session is
    refreshed (``Set-Cookie``, ``Vary: Cookie``) exactly as the view's response has it."""
    interface = flask_app.session_interface

    def issue(*, environ: WSGIEnvironment, **parts: Any) -> Issued | None:
        if not environ.get("HTTP_COOKIE"):
            return code_requests.issue(server, services, **parts)
        opened = interface.open_session(flask_app, cast(Request, _Cookies(environ)))
        if opened is None or interface.is_null_session(opened):
            return None  # no secret key: Flask's path says what it says
        session = opened

        def headers(body: bytes) -> list[tuple[str, str]]:
            response = flask_app.response_class(body, headers=code_requests.HEADERS)
            interface.save_session(flask_app, session, response)
            return list(response.headers.items())
        return code_requests.issue(server, services, headers=headers, **parts)
    return raw_token(issue, with_environ=True)


class _Cookies:
    """What Flask's session interface reads of a request: its cookies, parsed as Flask's
    request parses them."""

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.cookies = parse_cookie(environ)


def raw_token(issue: Callable[..., Issued | None], *, with_environ: bool = False) -> Lane:
    """A token request with HTTP Basic credentials and a form, answered by ``issue`` from the
    request's raw parts (scheme, host, Authorization header, body), or declined (None). An
    error in ``issue`` (the database gone, say) is logged and the view answers the request,
    through the one error mapping: nothing ``issue`` began is kept (a transaction not
    committed is rolled back; after a commit nothing in it can fail)."""
    def lane(environ: WSGIEnvironment) -> Answer | None:
        if (environ.get("CONTENT_TYPE") != FORM or environ.get("QUERY_STRING")
                or environ.get("HTTP_AUTHORIZATION", "")[:6].lower() != "basic "):
            return None
        body = _body(environ)
        if body is None:
            return None
        parts = {"scheme": environ.get("wsgi.url_scheme", "http"),
                 "host": environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
                 "authorization": environ["HTTP_AUTHORIZATION"], "body": body}
        issued: Issued | None = None
        try:
            issued = issue(environ=environ, **parts) if with_environ else issue(**parts)
        except Exception:  # the view answers it, its errors mapped in one place
            log.warning("a fast lane failed on %s; the view answers", environ.get("PATH_INFO"),
                        exc_info=True)
        if issued is None:
            environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it as it came
            return None
        return Answer("200 OK", issued.headers, issued.body, issued.client_id)
    return lane


def first_of(*lanes: Lane) -> Lane:
    """The answer of the first of ``lanes`` that answers (each hands the body on as it came)."""
    def lane(environ: WSGIEnvironment) -> Answer | None:
        for each in lanes:
            answer = each(environ)
            if answer is not None:
                return answer
        return None
    return lane


def in_app_context(flask_app: Flask, answer: Callable[[Request], Response | None], *,
                   commit: bool) -> Lane:
    """A lane for a narrow path written against a request object (``answer``: the response,
    or None when the view must answer). ``commit``: the request's unit of work is committed
    after a 200, as the token view does."""
    def lane(environ: WSGIEnvironment) -> Answer | None:
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if (environ.get("CONTENT_TYPE") != FORM or environ.get("QUERY_STRING")
                or authorization[:6].lower() != "basic "):
            return None
        body = _body(environ)
        if body is None:
            return None
        environ["wsgi.input"] = io.BytesIO(body)
        response: Response | None = None
        try:
            with flask_app.app_context():
                response = answer(flask_app.request_class(environ))
                made = context.open_db()
                if response is not None and made is not None:
                    if commit and response.status_code == 200:
                        made.commit()
                    else:
                        made.rollback()
        except Exception:
            log.warning("a fast lane failed on %s; the view answers", environ.get("PATH_INFO"),
                        exc_info=True)
            response = None
        environ.pop("werkzeug.request", None)
        if response is None:
            environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it as it came
            return None
        return Answer(response.status, list(response.headers.items()), response.get_data(),
                      basic_user(authorization))
    return lane


def userinfo(flask_app: Flask, services: context.Services) -> Lane:
    engine = services.reads if services.reads is not None else services.engine

    def lane(environ: WSGIEnvironment) -> Answer | None:
        scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        opened: list[Session] = []
        with engine.connect() as connection:
            def session() -> Session:
                """On the lane's one connection: on SQLite a second one would wait for the
                write lock the first one's BEGIN IMMEDIATE holds."""
                if not opened:
                    opened.append(Session(bind=connection))
                return opened[0]
            try:
                answer = userinfo_claims(services, connection, session, token)
            finally:
                for made in opened:
                    made.close()
        if isinstance(answer, Refused):
            return None
        response = cast(Response, flask_app.json.response(answer))  # jsonify's bytes, headers
        return Answer(response.status, list(response.headers.items()), response.get_data())
    return lane


def document(body: Callable[[], bytes], headers: list[tuple[str, str]]) -> Lane:
    """A GET answered by ``body()`` (the view's own, kept by whoever makes it)."""
    def lane(environ: WSGIEnvironment) -> Answer:
        return Answer("200 OK", headers, body())
    return lane


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


def init_app(app: Flask, server: CampusAuthorizationServer, *,
             documents: dict[str, tuple[Callable[[], bytes], list[tuple[str, str]]]]) -> None:
    """Call before ProxyFix wraps ``app.wsgi_app``: a lane must see the public scheme and host
    as Flask would. ``documents``: path → (body, headers) of a GET answered alike by its view."""
    services = context.services_of(app)
    lanes: dict[tuple[str, str], Lane] = {
        ("POST", "/token"): first_of(service_token(server, services),
                                     refresh_token(server, services),
                                     code_token(app, server, services)),
        ("POST", "/introspect"): in_app_context(
            app, lambda request: basic_introspection.answer(server, request), commit=False),
        ("GET", "/userinfo"): userinfo(app, services),
    }
    for path, (body, headers) in documents.items():
        lanes[("GET", path)] = document(body, headers)
    app.wsgi_app = Lanes(app.wsgi_app, app, lanes)  # type: ignore[method-assign]
