"""The helpdesk API's delivery jobs (``/api/v1/deliveries``): list the outbox and send a
dead-lettered job again, as ``idp deliveries`` does.

Bearer access tokens of this provider's client credentials grant, as on the rest of the
helpdesk API, but only the consortium-wide ``helpdesk`` role: a job is about a connector of
the whole consortium, so a ``helpdesk:ORG`` client is refused (403). Order of checks: token
(401), role (403), input (422), lookup (404), then the retry (409 when the job is not failed
or a newer job superseded it), committed before the response with its audit event naming
``client:ID``. Errors are ``{"error": ..., "message": ...}``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from idp import context
from idp.errors import BadRequest, Forbidden, IdpError, InvalidInput, NotFound
from idp.linking import helpdesk, merge
from idp.linking.helpdesk import HelpdeskScope
from idp.oidc.access_tokens import find_any_access_token
from idp.provisioning import deliveries as service
from idp.storage.clients import Client
from idp.web.api import REALM, Unauthorized, json_error

log = logging.getLogger(__name__)
bp = Blueprint("api_deliveries", __name__, url_prefix="/api/v1/deliveries")


@bp.errorhandler(IdpError)
def _error(exc: IdpError) -> Response:
    log.info("api %s: %s", type(exc).__name__, exc.detail)
    resp = json_error(exc.status_code, exc.public)
    if exc.status_code == 401:  # RFC 6750 3: no error code when no token was given
        challenge = f'Bearer realm="{REALM}"'
        if request.headers.get("Authorization"):
            challenge += ', error="invalid_token"'
        resp.headers["WWW-Authenticate"] = challenge
    return resp


@bp.after_request
def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _caller() -> Client:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("no bearer token")
    token = find_any_access_token(value.strip())
    if (token is None or not token.is_active() or token.identity_id is not None
            or token.client.deleted_at is not None):
        raise Unauthorized("unknown, expired, revoked or personal token")
    scope = HelpdeskScope.of_roles(token.client.roles or [])
    if scope is None or scope.organizations is not None:
        raise Forbidden(f"client {token.client.client_id} has no consortium helpdesk role",
                        public="Delivery jobs need the consortium-wide helpdesk role.")
    return token.client


def _int_arg(name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise InvalidInput(f"{name}={raw!r}",
                           public=f"{name} must be a whole number from {minimum} to {maximum}.")
    return int(raw)


@bp.get("")
def list_deliveries() -> Response:
    _caller()
    state = request.args.get("state") or None
    if state is not None and state not in service.STATES:
        raise InvalidInput(f"state={state!r}",
                           public="state is pending, in_progress, done or failed.")
    connector = request.args.get("connector") or None
    limit = _int_arg("limit", 20, minimum=1, maximum=helpdesk.MAX_LIMIT)
    after = _int_arg("cursor", 0, minimum=0, maximum=helpdesk.MAX_ID)
    found = service.jobs(context.db(), state=state, connector=connector, after=after,
                         limit=limit + 1)
    cursor = str(found[limit - 1].id) if len(found) > limit else None
    return jsonify(items=[service.job_json(j) for j in found[:limit]], next_cursor=cursor)


@bp.post("/<int:job_id>/retry")
def retry_delivery(job_id: int) -> Response:
    client = _caller()
    reason = merge.check_reason(_body().get("reason"))
    db = context.db()
    if job_id > helpdesk.MAX_ID:  # beyond any id (and SQLite's INTEGER)
        raise NotFound(f"delivery job {job_id}", public=f"No delivery job {job_id}.")
    job = service.find(db, job_id)
    service.retry(db, job, actor=f"client:{client.client_id}", reason=reason)
    db.commit()
    return jsonify(service.job_json(job))


def _body() -> dict[str, Any]:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("body not a JSON object", public="The body must be a JSON object.")
    return body
