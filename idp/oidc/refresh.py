"""The refresh token grant (RFC 6749 section 6) with rotation on every use and reuse detection.

The presented token is spent (``rotated_at``) by the statement that finds it, in the same
transaction that stores its child (``idp.storage.refresh_rows``); a spent token presented
again raises ``RefreshTokenReusedError``, which the server turns into a revoked family and an
audit event (``idp.oidc.server``). No ID token is issued on refresh (OpenID Connect Core 12.2
allows leaving it out).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant

from idp import context
from idp.storage.clients import Client
from idp.storage.refresh_rows import RefreshPerson, SpentRefreshToken, spend_refresh_token
from idp.storage.refresh_tokens import RefreshToken, find_refresh_token


class RefreshTokenReusedError(InvalidGrantError):  # type: ignore[misc]
    """A spent refresh token presented again: its whole family gets revoked."""

    def __init__(self, token: RefreshToken, client: Client | None) -> None:
        super().__init__("The refresh token is no longer valid.")
        self.token = token
        self.presented_by = client


class RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt",
                                   "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation on every use

    def authenticate_refresh_token(self, refresh_token: str) -> SpentRefreshToken | None:
        """The token spent at once (``spend_refresh_token``), or else read to say why not, in
        today's order: spent, revoked, expired; otherwise (another client's) none. An error
        after the spending (a scope beyond the token's) rolls it back with the request."""
        db = context.db()
        spent = spend_refresh_token(db.connection(), refresh_token, self.request.client)
        if spent is not None:
            return spent
        found = find_refresh_token(db, refresh_token)
        if found is None:
            return None
        if found.rotated_at is not None:
            raise RefreshTokenReusedError(found, self.request.client)
        if found.revoked_at is not None:
            raise InvalidGrantError("The refresh token has been revoked.")
        if found.is_expired():
            raise InvalidGrantError("The refresh token has expired.")
        return None

    def authenticate_user(self, refresh_token: SpentRefreshToken) -> RefreshPerson:
        return refresh_token.identity

    def revoke_old_credential(self, refresh_token: SpentRefreshToken) -> None:
        """Spent already, when it was found."""
