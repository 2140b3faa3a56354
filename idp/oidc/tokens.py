"""Issuing tokens: opaque or RFC 9068 JWT access tokens per client, refresh tokens by the
client's policy, and the one place where what was issued is stored (as digests).

Opaque access tokens and every token of a person are stored, so that revocation and UserInfo
treat both formats alike. A JWT access token of the client credentials grant is not: it is
self-contained, and checked by its signature and claims (``idp.oidc.access_tokens``).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet
from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from idp import context
from idp.identity.subjects import subject_for
from idp.oidc.access_tokens import revoked_with_client
from idp.oidc.keys import SUPPORTED_ALGS, JoseKey
from idp.settings import OidcSettings
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.identities import Identity
from idp.storage.refresh_rows import SpentRefreshToken
from idp.storage.refresh_tokens import RefreshToken, new_family_id
from idp.storage.tokens import AccessToken, digest


def random_token(**_: Any) -> str:
    return secrets.token_urlsafe(32)


class JwtAccessTokens(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 access tokens signed with the current key of one algorithm (with its kid)."""

    def __init__(self, issuer: str, alg: str, key_for: Callable[[str], JoseKey],
                 lifetime_s: int) -> None:
        super().__init__(issuer, alg=alg, refresh_token_generator=random_token,
                         expires_generator=lambda client, grant_type: lifetime_s)
        self.key_for = key_for

    def get_jwks(self) -> KeySet:
        # One key only: joserfc then names it in the header's kid.
        return KeySet([self.key_for(self.alg)])

    def get_audiences(self, client: Client, user: Identity | None, scope: str) -> str:
        """The resource the client's tokens are for; this provider (UserInfo) by default."""
        return client.access_token_audience or self.issuer

    def get_jti(self, client: Client, grant_type: str, user: Identity | None, scope: str) -> str:
        return secrets.token_urlsafe(24)

    def get_extra_claims(self, client: Client, grant_type: str, user: Identity | None,
                         scope: str) -> dict[str, Any]:
        """A person's ``sub`` as this client sees it (pairwise or public), as in its ID token."""
        if user is None:
            return {}
        return {"sub": subject_for(client, user, context.settings().server.secret_key)}


class TokenGenerator:
    """Authlib's token generator interface, choosing the access token format per client."""

    def __init__(self, issuer: str, oidc: OidcSettings, key_for: Callable[[str], JoseKey]) -> None:
        lifetime = oidc.access_token_lifetime_s
        self.opaque = BearerTokenGenerator(random_token, random_token,
                                           lambda client, grant_type: lifetime)
        self.jwt = {alg: JwtAccessTokens(issuer, alg, key_for, lifetime) for alg in SUPPORTED_ALGS}

    def __call__(self, grant_type: str, client: Client, user: Identity | None = None,
                 scope: str | None = None, expires_in: int | None = None,
                 include_refresh_token: bool = True) -> dict[str, Any]:
        generator = (self.jwt[client.id_token_signed_response_alg]
                     if client.access_token_format == "jwt" else self.opaque)
        include = include_refresh_token and gets_refresh_token(client, grant_type, scope)
        token: dict[str, Any] = generator(grant_type, client, user, scope, expires_in, include)
        return token


def gets_refresh_token(client: Client, grant_type: str, scope: str | None) -> bool:
    """A refresh grant always rotates; a code exchange yields one when the client may refresh
    and either asked offline_access or is configured to refresh always."""
    if grant_type == "refresh_token":
        return True
    if grant_type != "authorization_code" or not client.check_grant_type("refresh_token"):
        return False
    return (client.refresh_token_policy == "always"
            or "offline_access" in client.get_allowed_scope(scope).split())


_INSERT_ACCESS_TOKEN = insert(cast(Table, AccessToken.__table__))
_INSERT_REFRESH_TOKEN = insert(cast(Table, RefreshToken.__table__))


def store_issued(db: Session, oidc: OidcSettings, token: dict[str, Any], request: Any) -> None:
    """Keep digests of what a token response carries (RFC 6749 5.1), tied to their family."""
    client: Client = request.client
    if is_self_contained(request.payload.grant_type, client, token["access_token"]):
        return  # the caller need not even open a session (``idp.oidc.server``)
    user: Identity | None = request.user
    code = request.authorization_code
    parent: SpentRefreshToken | None = request.refresh_token
    now = utcnow()
    family_id = parent.family_id if parent is not None else None
    if "refresh_token" in token and user is not None:
        family_id = family_id or new_family_id()
        expires_at = (parent.expires_at if parent is not None
                      else now + timedelta(seconds=oidc.refresh_token_lifetime_s))
        # Prepared too: the ORM's unit of work cost more than the rest of a refresh.
        db.connection().execute(_INSERT_REFRESH_TOKEN, dict(
            token_hash=digest(token["refresh_token"]),
            family_id=family_id,
            parent_id=parent.id if parent is not None else None,
            client_pk=client.id,
            identity_id=user.id,
            code_id=parent.code_id if parent is not None else (code.id if code else None),
            # RFC 6749 6: a new refresh token has exactly the scope of the one it replaces.
            scope=parent.scope if parent is not None else token.get("scope", ""),
            auth_time=parent.auth_time if parent is not None else (code.auth_time if code else None),
            issued_at=now,
            expires_at=expires_at,
            idle_expires_at=min(expires_at,
                                now + timedelta(seconds=oidc.refresh_token_idle_lifetime_s)),
            rotated_at=None,
            revoked_at=None,
        ))
    # A prepared INSERT: nothing reads the row back in this request, and building the
    # statement through the ORM cost more than signing the token (bench/profile.py).
    db.connection().execute(_INSERT_ACCESS_TOKEN, dict(
        token_hash=digest(token["access_token"]),
        client_pk=client.id,
        identity_id=user.id if user is not None else None,
        code_id=code.id if code is not None else None,
        scope=token.get("scope", ""),
        issued_at=now,
        expires_at=now + timedelta(seconds=int(token["expires_in"])),
        jti=jwt_id(token["access_token"]),
        family_id=family_id,
    ))


def is_self_contained(grant_type: str, client: Client, access_token: str) -> bool:
    """A client credentials JWT is not stored (RFC 9068: it carries all a resource server
    needs), unless it was issued in the very second every token of its client was revoked
    (``tokens_revoked_before``): without a row it would count as revoked with them."""
    if grant_type != "client_credentials" or client.access_token_format != "jwt":
        return False
    if client.tokens_revoked_before is None:
        return True
    iat = jwt_claims(access_token).get("iat")
    return isinstance(iat, int) and not revoked_with_client(client, iat)


def jwt_id(value: str) -> str | None:
    """The jti of an access token this provider just signed; None for an opaque one."""
    jti = jwt_claims(value).get("jti")
    return str(jti) if jti else None


def jwt_claims(value: str) -> dict[str, Any]:
    """The claims of a JWT this provider just signed (not verified: it made it); empty for an
    opaque token."""
    parts = value.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return claims
