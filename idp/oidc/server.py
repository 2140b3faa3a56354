"""Authlib's authorization server bound to our storage: client lookup, token storage, and the
one place where a code reuse turns into revoked tokens and an audit event."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from flask import Flask

from idp import context
from idp.oidc.grants import CodeGrant, CodeReusedError, OpenIDCodeExtension, PkceExtension
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import Client, find_client
from idp.storage.tokens import AccessToken, digest, revoke_tokens_of_code


class CampusAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def query_client(self, client_id: str) -> Client | None:
        return find_client(context.db(), client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        code = request.authorization_code
        context.db().add(
            AccessToken(
                token_hash=digest(token["access_token"]),
                client_pk=request.client.id,
                identity_id=request.user.id if request.user is not None else None,
                code_id=code.id if code is not None else None,
                scope=token.get("scope", ""),
                expires_at=utcnow() + timedelta(seconds=int(token["expires_in"])),
            )
        )

    def handle_error_response(self, request: Any, error: Any) -> Any:
        if isinstance(error, CodeReusedError):
            _revoke_after_code_reuse(error)
        return super().handle_error_response(request, error)


def _revoke_after_code_reuse(error: CodeReusedError) -> None:
    """Drop whatever this request did, then revoke and audit in a transaction of its own."""
    db = context.db()
    db.rollback()
    code = error.code
    revoked = revoke_tokens_of_code(db, code)
    audit.record(db, AuditEventType.CODE_REUSED, actor="client", identity_id=code.identity_id,
                 client_id=code.client.client_id, revoked_tokens=revoked)
    db.commit()


def create_server(app: Flask) -> CampusAuthorizationServer:
    server = CampusAuthorizationServer()
    server.init_app(app)
    settings = app.extensions[context.EXTENSION].settings

    def access_token(**_: Any) -> str:
        return secrets.token_urlsafe(32)

    lifetime = settings.oidc.access_token_lifetime_s
    server.register_token_generator(
        "default", BearerTokenGenerator(access_token, None, lambda client, grant_type: lifetime)
    )
    server.register_grant(CodeGrant, [OpenIDCodeExtension(require_nonce=False), PkceExtension()])
    return server
