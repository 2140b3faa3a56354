"""What every helpdesk API blueprint under ``/api/v1`` shares: the bearer token check and
the caller's helpdesk scope, the one JSON error shape (with RFC 6750's challenge on 401),
``no-store`` answers, and the parsing of bodies and whole-number arguments."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, request

from idp.errors import BadRequest, Forbidden, IdpError, InvalidInput
from idp.linking import helpdesk
from idp.linking.helpdesk import HelpdeskScope
from idp.oidc.access_tokens import find_any_access_token
from idp.storage.clients import Client

log = logging.getLogger("idp.web.api")
REALM = "campus-id"
ERROR_CODES = {400: "invalid_request", 401: "invalid_token", 403: "forbidden", 404: "not_found",
               409: "conflict", 422: "invalid_input"}


class Unauthorized(IdpError):
    status_code = 401
    public = "A valid bearer access token of a helpdesk client is required."


def api_error(exc: IdpError) -> Response:
    """The error handler of each API blueprint."""
    log.info("api %s: %s", type(exc).__name__, exc.detail)
    resp = json_error(exc.status_code, exc.public)
    if exc.status_code == 401:  # RFC 6750 3: no error code when no token was given
        challenge = f'Bearer realm="{REALM}"'
        if request.headers.get("Authorization"):
            challenge += ', error="invalid_token"'
        resp.headers["WWW-Authenticate"] = challenge
    return resp


def json_error(status: int, message: str) -> Response:
    """``{"error": ..., "message": ...}``; also for what Flask raises before a view runs (an
    unknown path or method under /api/v1, by ``idp.web.errors``)."""
    resp = jsonify(error=ERROR_CODES.get(status, "server_error" if status >= 500 else "invalid_request"),
                   message=message)
    resp.status_code = status
    return resp


def no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def helpdesk_caller() -> tuple[Client, HelpdeskScope]:
    """The client whose bearer token came (401 without a live client credentials token) and
    its helpdesk scope (403 without a helpdesk role)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("no bearer token")
    token = find_any_access_token(value.strip())
    if (token is None or not token.is_active() or token.identity_id is not None
            or token.client.deleted_at is not None):
        raise Unauthorized("unknown, expired, revoked or personal token")
    scope = HelpdeskScope.of_roles(token.client.roles or [])
    if scope is None:
        raise Forbidden(f"client {token.client.client_id} has no helpdesk role",
                        public="This client has no helpdesk role.")
    return token.client, scope


def json_body() -> dict[str, Any]:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("body not a JSON object", public="The body must be a JSON object.")
    return body


def int_arg(name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise InvalidInput(f"{name}={raw!r}",
                           public=f"{name} must be a whole number from {minimum} to {maximum}.")
    return int(raw)


def limit_arg() -> int:
    return int_arg("limit", 20, minimum=1, maximum=helpdesk.MAX_LIMIT)


def cursor_arg() -> int:
    return int_arg("cursor", 0, minimum=0, maximum=helpdesk.MAX_ID)
