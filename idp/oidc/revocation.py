"""Token revocation (RFC 7009) by the client a token was issued to.

Confidential clients authenticate (``client_secret_basic``, ``client_secret_post`` or
``private_key_jwt``); a
public client names itself, as section 5 allows. Revoking a refresh token revokes its whole
family with the access tokens issued from it (section 2.1); revoking an access token revokes
only that one. An unknown token answers 200 (section 2.2); another client's token is refused
with ``invalid_grant`` (section 2.1, RFC 6749 5.2) and nothing is revoked. A self-contained
client credentials JWT has no row until it is revoked: revoking it stores one, revoked, which
every worker finds by the token's digest before checking the token itself.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint

from idp import context
from idp.oidc.access_tokens import SelfContainedToken
from idp.oidc.introspection import AnyToken, check_token_param, find_token
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import Client
from idp.storage.refresh_tokens import RefreshToken, revoke_family
from idp.storage.tokens import record_revoked_token, revoke_access_token


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

    def check_params(self, request: Any, client: Client) -> None:
        check_token_param(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> AnyToken | None:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: AnyToken, request: Any) -> None:
        db = context.db()
        if isinstance(token, RefreshToken):
            refresh, access = revoke_family(db, token.family_id)
            if not refresh + access:
                return
            details: dict[str, Any] = {"kind": "refresh_token", "family": token.family_id,
                                       "revoked_refresh_tokens": refresh,
                                       "revoked_access_tokens": access}
        elif isinstance(token, SelfContainedToken):
            if token.is_revoked() or not record_revoked_token(
                    db, token_hash=token.value_hash, jti=token.jti, client_pk=token.client_pk,
                    scope=token.scope, issued_at=token.issued_at, expires_at=token.expires_at):
                return
            details = {"kind": "access_token", "jti": token.jti, "self_contained": True}
        else:
            if not revoke_access_token(db, token):
                return
            details = {"kind": "access_token", "jti": token.jti}
        audit.record(db, AuditEventType.TOKEN_REVOKED, actor="client",
                     identity_id=token.identity_id, client_id=token.client.client_id, **details)
