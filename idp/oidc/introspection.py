"""Token introspection (RFC 7662) for the client a token was issued to.

Client-authenticated (``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt``);
another client's
token, an unknown, expired, revoked or spent one all answer ``{"active": false}`` alike
(section 2.2). Both token kinds are looked for whatever the hint says (section 2.1). A
client credentials JWT, which is not stored, is checked by its signature and claims instead
(``idp.oidc.access_tokens``) and answers with the same fields as a stored one.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from idp import context
from idp.identity.subjects import subject_for
from idp.oidc.access_tokens import SelfContainedToken, find_any_access_token, self_contained
from idp.storage.clients import Client
from idp.storage.refresh_tokens import RefreshToken, find_refresh_token
from idp.storage.token_rows import StoredToken, find_stored_token
from idp.storage.tokens import AccessToken

AnyToken = AccessToken | RefreshToken | SelfContainedToken
ReadToken = StoredToken | RefreshToken | SelfContainedToken


def find_token(token: str, hint: str | None) -> AnyToken | None:
    """Either kind, the hinted one first; an unknown hint is ignored (RFC 7009 2.1)."""
    db = context.db()
    if hint == "refresh_token":
        return find_refresh_token(db, token) or find_any_access_token(token)
    return find_any_access_token(token) or find_refresh_token(db, token)


def read_token(token: str, hint: str | None) -> ReadToken | None:
    """``find_token`` for reading only (``idp.context.read_db``): a stored access token as a
    row (``idp.storage.token_rows``) on the bare connection, not an ORM object."""
    if hint == "refresh_token":
        return find_refresh_token(context.read_db(), token) or _read_access_token(token)
    return _read_access_token(token) or find_refresh_token(context.read_db(), token)


def _read_access_token(value: str) -> StoredToken | SelfContainedToken | None:
    """As ``find_any_access_token``: by digest first, then by its signature."""
    found = find_stored_token(context.read_connection(), value)
    if found is not None:
        return found
    return self_contained(value, issuer=context.settings().server.issuer,
                          keys=context.services().keyring().published, find_client=context.client)


def check_token_param(request: Any) -> None:
    if not request.form.get("token"):
        raise InvalidRequestError("The 'token' parameter is required.")


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def check_params(self, request: Any, client: Client) -> None:
        check_token_param(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> ReadToken | None:
        return read_token(token_string, token_type_hint)

    def check_permission(self, token: ReadToken, client: Client, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: ReadToken) -> dict[str, Any]:
        settings = context.settings()
        issuer = settings.server.issuer
        if isinstance(token, SelfContainedToken):
            service = token.client.client_id
            return {"active": True, "scope": token.scope, "client_id": service,
                    "sub": service, "iss": issuer, "iat": token.iat,
                    "token_type": "Bearer", "exp": token.exp, "aud": token.audience,
                    "jti": token.jti}
        # The asking client's own token (check_permission): its snapshot is in memory.
        client = context.client_by_pk(token.client_pk)
        if client is None:  # not while it is the asking client
            return {"active": False}
        payload: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": client.client_id,
            "sub": (subject_for(client, token.identity, settings.server.secret_key)
                    if token.identity is not None else client.client_id),
            "iss": issuer,
            "iat": int(token.issued_at.timestamp()),
        }
        if isinstance(token, StoredToken):
            payload.update(token_type="Bearer", exp=int(token.expires_at.timestamp()),
                           aud=client.access_token_audience or issuer)
            if token.jti:
                payload["jti"] = token.jti
        else:
            payload["exp"] = int(token.expiry().timestamp())
        return payload
