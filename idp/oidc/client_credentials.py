"""The client credentials grant (RFC 6749 section 4.4) for services acting on their own behalf.

Confidential clients only; the scope is limited to the client's service scopes (its allowed
scopes other than those about a person), all of them when none is asked. No ID token, no
refresh token.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant

from idp.oidc.descriptions import description
from idp.storage.clients import Client


def service_scope(client: Client, asked: str | None) -> str:
    """The scope a token of ``client`` gets when it asks for ``asked`` (RFC 6749 3.3: all its
    service scopes when it asks for none); InvalidScopeError when it asks for one it may not
    have."""
    allowed = client.service_scopes()
    wanted = (asked or "").split()
    if not wanted:
        return " ".join(allowed)
    refused = [s for s in wanted if s not in allowed]
    if refused:
        raise InvalidScopeError(description(f"This client may not ask for: {' '.join(refused)}."))
    return " ".join(dict.fromkeys(wanted))


class ServiceGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def validate_requested_scope(self) -> None:
        self.request.service_scope = service_scope(self.request.client, self.request.payload.scope)

    def create_token_response(self) -> Any:
        token = self.generate_token(scope=self.request.service_scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER
