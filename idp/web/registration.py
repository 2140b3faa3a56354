"""The client registration endpoint (RFC 7591) and the client configuration endpoint
(RFC 7592). Thin views: the order of checks is token first (401 with ``WWW-Authenticate``,
RFC 6750 3; an initial access token that passes is spent by the attempt), then the metadata
(400 with a standard error naming the field, audited), then the change, committed before the
response. No transaction is open while the metadata check fetches a sector_identifier_uri."""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc7591 import InvalidClientMetadataError
from flask import Blueprint, Response, request

from idp import context
from idp.oidc.client_metadata import ClientMetadata, parse_client_metadata
from idp.oidc.key_metadata import sector_fetcher
from idp.oidc.registration import (
    RegistrationUnauthorized,
    authenticate_initial_token,
    authenticate_registered_client,
    client_information,
    delete_client,
    register_client,
    registration_failed,
    spend_initial_token,
    update_client,
)
from idp.storage import audit
from idp.storage.audit import AuditEventType

bp = Blueprint("registration", __name__)
REALM = "campus-id"


@bp.post("/register")
def register() -> Response:
    """The token is checked and its use spent in a transaction of its own, committed before
    the metadata is checked: that may fetch the sector_identifier_uri (``idp.oidc.outbound``), and
    no transaction (on SQLite, the write lock) is held while a remote server answers."""
    db = context.db()
    settings = context.settings()
    try:
        token = authenticate_initial_token(db, _bearer_token(), settings.organizations)
        spend_initial_token(db, token, ip=request.remote_addr)
    except RegistrationUnauthorized as refused:
        return _refused(refused)
    db.commit()
    try:
        metadata = _metadata(_json_body())
    except OAuth2Error as error:
        registration_failed(db, token, error, ip=request.remote_addr)
        db.commit()
        return _oauth_error(error)
    registered = register_client(db, token, metadata, ip=request.remote_addr)
    db.commit()
    body = client_information(registered.client, settings.server.issuer,
                              registered.registration_access_token, registered.client_secret)
    return _json(body, 201)


@bp.route("/register/<client_id>", methods=["GET", "PUT", "DELETE"])
def configure(client_id: str) -> Response:
    db = context.db()
    settings = context.settings()
    presented = _bearer_token() or ""
    try:
        client = authenticate_registered_client(db, client_id, presented)
        if request.method == "GET":
            return _json(client_information(client, settings.server.issuer, presented))
        if request.method == "DELETE":
            delete_client(db, client, ip=request.remote_addr)
            db.commit()
            return Response(status=204)
        data = _json_body()
        db.commit()  # no transaction open while a sector_identifier_uri is fetched
        metadata = _metadata(data)
        secret = update_client(db, client, metadata, data, ip=request.remote_addr)
    except RegistrationUnauthorized as refused:
        return _refused(refused)
    except OAuth2Error as error:
        db.rollback()
        return _oauth_error(error)
    db.commit()
    return _json(client_information(client, settings.server.issuer, presented, secret))


def _metadata(data: Any) -> ClientMetadata:
    settings = context.settings()
    return parse_client_metadata(data, dev_mode=settings.server.dev_mode,
                                 fetch_sector=sector_fetcher(settings.outbound))


def _bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _json_body() -> Any:
    """The request body as JSON (RFC 7591 3.1); anything else is invalid metadata."""
    if request.mimetype != "application/json":
        raise InvalidClientMetadataError("The request body must be JSON (Content-Type: application/json).")
    try:
        return json.loads(request.get_data(cache=False) or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidClientMetadataError("The request body is not valid JSON.") from exc


def _refused(refused: RegistrationUnauthorized) -> Response:
    """401 with a Bearer challenge; no error code when no token was sent (RFC 6750 3.1)."""
    db = context.db()
    db.rollback()
    challenge = f'Bearer realm="{REALM}"'
    body: dict[str, str] = {}
    if refused.description:
        challenge += f', error="invalid_token", error_description="{refused.description}"'
        body = {"error": "invalid_token", "error_description": refused.description}
    audit.record(db, AuditEventType.REGISTRATION_REFUSED, actor="anonymous", ip=request.remote_addr,
                 method=request.method, path=audit.printable(request.path)[:200],
                 reason=refused.description or "no token")
    db.commit()
    response = _json(body, 401)
    response.headers["WWW-Authenticate"] = challenge
    return response


def _oauth_error(error: OAuth2Error) -> Response:
    """RFC 7591 3.2.2: 400 with ``error`` and an ``error_description`` naming the field."""
    status, body, _headers = error()
    return _json(dict(body), status)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"  # secrets and tokens (RFC 7591 3.2.1)
    response.headers["Pragma"] = "no-cache"
    return response
