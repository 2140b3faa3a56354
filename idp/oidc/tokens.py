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
from functools import cache
from typing import Any, cast

from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet
from sqlalchemy import Connection, Insert, Table, bindparam, insert
from sqlalchemy.orm import Session

from idp.identity.subjects import subject_for
from idp.oidc.access_tokens import revoked_with_client
from idp.oidc.keys import SUPPORTED_ALGS, JoseKey
from idp.settings import OidcSettings
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.driver import DriverConnection
from idp.storage.identities import Identity
from idp.storage.refresh_rows import SpentRefreshToken
from idp.storage.refresh_tokens import RefreshToken, new_family_id
from idp.storage.tokens import AccessToken, digest


def random_token(**_: Any) -> str:
    return secrets.token_urlsafe(32)


class JwtAccessTokens(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 access tokens signed with the current key of one algorithm (with its kid)."""

    def __init__(self, issuer: str, alg: str, key_for: Callable[[str], JoseKey],
                 lifetime_s: int, secret_key: str) -> None:
        super().__init__(issuer, alg=alg, refresh_token_generator=random_token,
                         expires_generator=lambda client, grant_type: lifetime_s)
        self.key_for = key_for
        self.secret_key = secret_key  # of pairwise subjects: no application context needed

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
        return {"sub": subject_for(client, user, self.secret_key)}


class TokenGenerator:
    """Authlib's token generator interface, choosing the access token format per client."""

    def __init__(self, issuer: str, oidc: OidcSettings, key_for: Callable[[str], JoseKey],
                 secret_key: str) -> None:
        lifetime = oidc.access_token_lifetime_s
        self.opaque = BearerTokenGenerator(random_token, random_token,
                                           lambda client, grant_type: lifetime)
        self.jwt = {alg: JwtAccessTokens(issuer, alg, key_for, lifetime, secret_key)
                    for alg in SUPPORTED_ALGS}

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


def store_issued(db: Session | Connection | DriverConnection, oidc: OidcSettings,
                 token: dict[str, Any], request: Any) -> None:
    """Keep digests of what a token response carries (RFC 6749 5.1), tied to their family.

    Prepared INSERTs on the session's connection (or on ``db`` itself, a connection in the
    caller's transaction), not the ORM: nothing reads the rows back in this request, and the
    unit of work cost more than signing the token (bench/profile.py). The statements need no
    type processing on PostgreSQL (``idp.storage.driver``)."""
    client: Client = request.client
    if is_self_contained(request.payload.grant_type, client, token["access_token"]):
        return  # the caller need not even open a session (``idp.oidc.server``)
    user: Identity | None = request.user
    code = request.authorization_code
    parent: SpentRefreshToken | None = request.refresh_token
    now = utcnow()
    family_id = parent.family_id if parent is not None else None
    params: dict[str, Any] = {}
    with_refresh = False
    if "refresh_token" in token and user is not None:
        with_refresh = True
        family_id = family_id or new_family_id()
        expires_at = (parent.expires_at if parent is not None
                      else now + timedelta(seconds=oidc.refresh_token_lifetime_s))
        params.update(
            r_token_hash=digest(token["refresh_token"]),
            r_family_id=family_id,
            r_parent_id=parent.id if parent is not None else None,
            r_client_pk=client.id,
            r_identity_id=user.id,
            r_code_id=parent.code_id if parent is not None else (code.id if code else None),
            # RFC 6749 6: a new refresh token has exactly the scope of the one it replaces.
            r_scope=parent.scope if parent is not None else token.get("scope", ""),
            r_auth_time=(parent.auth_time if parent is not None
                         else (code.auth_time if code else None)),
            r_issued_at=now,
            r_expires_at=expires_at,
            r_idle_expires_at=min(expires_at,
                                  now + timedelta(seconds=oidc.refresh_token_idle_lifetime_s)),
        )
    params.update(
        a_token_hash=digest(token["access_token"]),
        a_client_pk=client.id,
        a_identity_id=user.id if user is not None else None,
        a_code_id=code.id if code is not None else None,
        a_scope=token.get("scope", ""),
        a_issued_at=now,
        a_expires_at=now + timedelta(seconds=int(token["expires_in"])),
        a_jti=jwt_id(token["access_token"]),
        a_family_id=family_id,
    )
    _insert(db, params, with_refresh)


def _insert(db: Session | Connection | DriverConnection, params: dict[str, Any],
            with_refresh: bool) -> None:
    """The access token's row, and the refresh token's first when there is one: on PostgreSQL
    both in one statement (the refresh token's INSERT as a data-modifying WITH), one round trip
    fewer per code exchange and refresh."""
    connection = db.connection() if isinstance(db, Session) else db
    if with_refresh and connection.dialect.name == "postgresql":
        connection.execute(_insert_pair(), params)
        return
    if with_refresh:
        connection.execute(_insert_refresh(), params)
    connection.execute(_insert_access(), params)


def _values(table: Table, prefix: str, *, skip: tuple[str, ...]) -> dict[str, Any]:
    return {column.name: bindparam(prefix + column.name) for column in table.c
            if column.name not in skip}


@cache
def _insert_refresh() -> Insert:
    """A new refresh token: neither rotated nor revoked."""
    table = cast(Table, RefreshToken.__table__)
    return insert(table).values(_values(table, "r_", skip=("id", "rotated_at", "revoked_at")))


@cache
def _insert_access() -> Insert:
    """A new access token: not revoked."""
    table = cast(Table, AccessToken.__table__)
    return insert(table).values(_values(table, "a_", skip=("id", "revoked_at")))


@cache
def _insert_pair() -> Insert:
    return _insert_access().add_cte(_insert_refresh().cte("new_refresh_token"))


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
