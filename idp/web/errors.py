"""The one place where errors become responses: HTML for people, JSON for API clients.

Public messages are shown; details go to the log only.
"""

from __future__ import annotations

import logging

from authlib.oauth2 import OAuth2Error
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from idp.errors import IdpError
from idp.web import outage

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1/"
JSON_PATHS = ("/token", "/userinfo", "/jwks", "/.well-known/", "/api/", "/register", "/par",
              "/introspect", "/revoke")
TOO_LARGE = "The request body is larger than 64 KB."


def wants_json() -> bool:
    return request.path.startswith(JSON_PATHS)


def json_error_code(status: int) -> str:
    """The OAuth error code of a JSON answer that no protocol error named: the caller's fault
    (4xx) is ``invalid_request``, the provider's (5xx) ``server_error``, or
    ``temporarily_unavailable`` for 503 (RFC 6749, 4.1.2.1)."""
    if status == 503:
        return "temporarily_unavailable"
    return "server_error" if status >= 500 else "invalid_request"


def error_page(message: str, status: int) -> tuple[str, int]:
    return render_template("error.html", message=message), status


def init_app(app: Flask) -> None:
    for kind in outage.DATABASE_ERRORS:  # an outage, not the request's fault: 503
        app.register_error_handler(kind, lambda exc: outage.answer(exc, json=wants_json()))

    @app.errorhandler(IdpError)
    def idp_error(exc: IdpError) -> Response | tuple[str, int]:
        log.warning("%s: %s", type(exc).__name__, exc.detail)
        if wants_json():
            resp = jsonify(error=json_error_code(exc.status_code), error_description=exc.public)
            resp.status_code = exc.status_code
            return resp
        return error_page(exc.public, exc.status_code)

    @app.errorhandler(OAuth2Error)
    def protocol_error(exc: OAuth2Error) -> Response | tuple[str, int]:
        """An Authlib error no view answered: ``insecure_transport`` for a protocol endpoint
        reached over plain http, say. The caller's mistake, told as such."""
        description = exc.get_error_description() or exc.error
        if wants_json():
            resp = jsonify(error=exc.error, error_description=description)
            resp.status_code = exc.status_code or 400
            return resp
        return error_page(description, exc.status_code or 400)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        if exc.description == "csrf":
            from idp.web.i18n import translate

            return error_page(translate("login.expired_form"), 400)
        if request.path.startswith(API_PREFIX):  # the helpdesk API's own error shape
            from idp.web.api_common import json_error

            return json_error(status, exc.name)
        too_large = status == 413  # idp.web.limits: the same 64 KB for every endpoint
        if wants_json():
            resp = jsonify(error=json_error_code(status),
                           error_description=TOO_LARGE if too_large else exc.name)
            resp.status_code = status
            return resp
        from idp.web.i18n import translate

        return error_page(translate("error.too_large") if too_large else exc.name, status)
