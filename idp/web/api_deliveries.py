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

from flask import Blueprint, Response, jsonify, request

from idp import context
from idp.errors import Forbidden, IdpError, InvalidInput, NotFound
from idp.linking import helpdesk, merge
from idp.provisioning import deliveries as service
from idp.storage.clients import Client
from idp.web.api_common import api_error, cursor_arg, helpdesk_caller, json_body, limit_arg, no_store

bp = Blueprint("api_deliveries", __name__, url_prefix="/api/v1/deliveries")
bp.register_error_handler(IdpError, api_error)
bp.after_request(no_store)


def _caller() -> Client:
    client, scope = helpdesk_caller()
    if scope.organizations is not None:
        raise Forbidden(f"client {client.client_id} has no consortium helpdesk role",
                        public="Delivery jobs need the consortium-wide helpdesk role.")
    return client


@bp.get("")
def list_deliveries() -> Response:
    _caller()
    state = request.args.get("state") or None
    if state is not None and state not in service.STATES:
        raise InvalidInput(f"state={state!r}",
                           public="state is pending, in_progress, done or failed.")
    connector = request.args.get("connector") or None
    limit, after = limit_arg(), cursor_arg()
    found = service.jobs(context.db(), state=state, connector=connector, after=after,
                         limit=limit + 1)
    cursor = str(found[limit - 1].id) if len(found) > limit else None
    return jsonify(items=[service.job_json(j) for j in found[:limit]], next_cursor=cursor)


@bp.post("/<int:job_id>/retry")
def retry_delivery(job_id: int) -> Response:
    client = _caller()
    reason = merge.check_reason(json_body().get("reason"))
    db = context.db()
    if job_id > helpdesk.MAX_ID:  # beyond any id (and SQLite's INTEGER)
        raise NotFound(f"delivery job {job_id}", public=f"No delivery job {job_id}.")
    job = service.find(db, job_id)
    service.retry(db, job, actor=f"client:{client.client_id}", reason=reason)
    db.commit()
    return jsonify(service.job_json(job))
