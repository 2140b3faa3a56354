"""The client management API (``/api/v1/clients``, JSON only) for automation of staff work:
list the relying parties a caller may manage, read one, disable or enable it, delete it.

Bearer access tokens of this provider's client credentials grant, authorised by the
client's roles: ``consortium_admin`` everywhere, ``org_admin:ORG`` only on clients of ORG.
Order of checks: token (401), role (403), lookup (404), organization (403, audited), input
(422), a client of the configuration file (409, audited: disabling or deleting it is done in
the file), then the change with its audit event naming ``client:ID``, committed before the
response. Errors are ``{"error": ..., "message": ...}``, as on the helpdesk API.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Blueprint, Response, jsonify, request

from idp import context
from idp.admin import clients as service
from idp.admin.clients import Actor
from idp.admin.roles import StaffRoles
from idp.errors import Forbidden, IdpError, InvalidInput, NotFound
from idp.oidc.access_tokens import find_any_access_token
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import Client

bp = Blueprint("api_clients", __name__, url_prefix="/api/v1/clients")
REALM = "campus-id"
ERROR_CODES = {401: "invalid_token", 403: "forbidden", 404: "not_found", 409: "conflict",
               422: "invalid_input"}


class Unauthorized(IdpError):
    status_code = 401
    public = "A valid bearer access token of a client with an admin role is required."


@bp.errorhandler(IdpError)
def _error(exc: IdpError) -> Response:
    resp = jsonify(error=ERROR_CODES.get(exc.status_code, "server_error"), message=exc.public)
    resp.status_code = exc.status_code
    if exc.status_code == 401:
        challenge = f'Bearer realm="{REALM}"'
        if request.headers.get("Authorization"):
            challenge += ', error="invalid_token"'
        resp.headers["WWW-Authenticate"] = challenge
    return resp


@bp.after_request
def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("")
def list_clients() -> Response:
    caller, roles = _caller()
    org = request.args.get("organization") or None
    if org is not None and not roles.can_manage(org):
        _refuse(caller, roles, org, "client list of another organization")
    if org is not None:
        scope: list[str] | None = [org]
    else:
        scope = None if roles.consortium_admin else sorted(roles.org_admin_of)
    return jsonify(items=[_describe(c) for c in service.clients_of(context.db(), scope)])


@bp.get("/<client_id>")
def read_client(client_id: str) -> Response:
    caller, roles = _caller()
    return jsonify(_describe(_managed(caller, roles, client_id)))


@bp.patch("/<client_id>")
def change_client(client_id: str) -> Response:
    """``{"disabled": true|false}``."""
    caller, roles = _caller()
    client = _managed(caller, roles, client_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) != {"disabled"} or not isinstance(body["disabled"], bool):
        raise InvalidInput("bad body", public='The body must be {"disabled": true} or {"disabled": false}.')
    db = context.db()
    actor = _actor(caller)
    try:
        if body["disabled"]:
            service.disable_client(db, client, actor)
        else:
            service.enable_client(db, client, actor)
    except service.StaticClientChange as refused:
        _refuse_static(client, refused, actor)
    db.commit()
    return jsonify(_describe(client))


@bp.delete("/<client_id>")
def delete_client(client_id: str) -> Response:
    caller, roles = _caller()
    client = _managed(caller, roles, client_id)
    db = context.db()
    actor = _actor(caller)
    try:
        service.remove_client(db, client, actor)
    except service.StaticClientChange as refused:
        _refuse_static(client, refused, actor)
    db.commit()
    return Response(status=204)


def _caller() -> tuple[Client, StaffRoles]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("no bearer token")
    token = find_any_access_token(value.strip())
    if (token is None or not token.is_active() or token.identity_id is not None
            or token.client.deleted_at is not None or token.client.disabled_at is not None):
        raise Unauthorized("unknown, expired, revoked or personal token")
    roles = StaffRoles.of_client_roles(token.client.roles or [])
    if not roles.is_staff:
        raise Forbidden(f"client {token.client.client_id} has no admin role",
                        public="This client has no admin role.")
    return token.client, roles


def _managed(caller: Client, roles: StaffRoles, client_id: str) -> Client:
    client = service.find_managed_client(context.db(), client_id)
    if client is None:
        raise NotFound(f"client {client_id!r}", public="No client has this client_id.")
    if not roles.can_manage(client.organization):
        _refuse(caller, roles, client.organization, f"client {client.client_id}")
    return client


def _refuse(caller: Client, roles: StaffRoles, organization: str | None, what: str) -> None:
    """403, written to the audit trail in a transaction of its own."""
    db = context.db()
    db.rollback()
    audit.record(db, AuditEventType.ADMIN_FORBIDDEN, actor=f"client:{caller.client_id}",
                 ip=request.remote_addr, organization=organization,
                 path=audit.printable(request.path)[:200], reason=what, roles=roles.describe())
    db.commit()
    raise Forbidden(f"{caller.client_id}: {what}",
                    public="This client belongs to an organization you do not manage.")


def _refuse_static(client: Client, refused: service.StaticClientChange, actor: Actor) -> NoReturn:
    """409 for a client of the configuration file, nothing changed, written to the audit
    trail in a transaction of its own."""
    db = context.db()
    db.rollback()
    service.record_refusal(db, client, refused, actor, request.path)
    db.commit()
    raise refused


def _actor(caller: Client) -> Actor:
    return Actor(f"client:{caller.client_id}", request.remote_addr)


def _describe(client: Client) -> dict[str, Any]:
    """What automation needs to know of a client: never a secret or its digest."""
    return service.describe(client)
