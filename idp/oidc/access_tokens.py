"""Access tokens as the endpoints that take them see them: stored ones, and self-contained ones.

Every access token of a person, and every opaque one, is stored (as a digest) when issued and
found by that digest. An RFC 9068 JWT issued by the client credentials grant is not stored:
issuing it needs no database. It is checked instead by what it says about itself, under these
conditions, any one failing making it unknown (``None``):

* a JWS signed by a key this provider publishes now (the request's key ring; a retired key no
  longer counts), with the algorithm of that key, ``typ`` ``at+jwt``;
* ``iss`` this provider, not expired (``exp``), and a token without a person: ``sub`` equals
  ``client_id`` (a person's token carries their subject, and is stored anyway);
* its client exists and is not deleted (``idp.context.client``).

A found token is still *revoked* when its client is disabled, or when every token of its client
was revoked at once (``clients.tokens_revoked_before``, set by ``revoke_client_tokens``) in or
after the second of its ``iat``. ``iat`` has whole seconds, so a token issued in the same
second right after that moment cannot be told apart from one issued right before it: such a
token counts as revoked (conservative). The token endpoint avoids making one: it stores a token
of that second instead (``idp.oidc.tokens.store_issued``), so it is found by digest and the
moment does not apply to it. Like a stored token whose row is inserted just after the client's
tokens were revoked, a token whose request was already under way when the client was disabled,
and that got a later ``iat``, escapes that moment: it is refused while the client is disabled.
Revoking one token (RFC 7009) stores a row for it with ``revoked_at`` set, found by digest
before the token is ever checked on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeGuard

from joserfc import jws
from joserfc.errors import JoseError

from idp import context
from idp.oidc.keys import SUPPORTED_ALGS, JoseKey
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.tokens import AccessToken, digest, find_access_token

MAX_TOKEN_LENGTH = 4096
TOKEN_TYPE = "at+jwt"


@dataclass(frozen=True)
class SelfContainedToken:
    """A client credentials JWT this provider signed, read from its claims (never stored until
    it is revoked). Offers what ``AccessToken`` offers to the endpoints that take tokens."""

    value_hash: str
    jti: str
    client: Client
    scope: str
    audience: str | list[str]
    iat: int
    exp: int
    identity: None = None
    identity_id: None = None
    revoked_at: None = None

    @property
    def client_pk(self) -> int:
        return self.client.id

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.iat, UTC)

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)

    def is_active(self) -> bool:
        return not self.is_expired() and not self.is_revoked()

    # --- Authlib TokenMixin (introspection and revocation) ---------------------------------
    def check_client(self, client: Client) -> bool:
        return self.client.id == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, self.exp - int(utcnow().timestamp()))

    def is_expired(self) -> bool:
        return utcnow().timestamp() >= self.exp

    def is_revoked(self) -> bool:
        return self.client.disabled_at is not None or revoked_with_client(self.client, self.iat)


AnyAccessToken = AccessToken | SelfContainedToken


def revoked_with_client(client: Client, iat: int) -> bool:
    """Whether a token issued in the second ``iat`` is covered by the client's last "revoke
    every token" (conservatively: the whole second of that moment is)."""
    before = client.tokens_revoked_before
    return before is not None and iat <= int(before.timestamp())


def find_any_access_token(value: str) -> AnyAccessToken | None:
    """A stored access token by digest (a revoked self-contained one included), else a valid
    self-contained one; for the current request's database session and keys."""
    found = find_access_token(context.db(), value)
    if found is not None:
        return found
    return self_contained(value, issuer=context.settings().server.issuer,
                          keys=context.services().keyring().published, find_client=context.client)


def self_contained(value: str, *, issuer: str, keys: Sequence[JoseKey],
                   find_client: Callable[[str], Client | None]) -> SelfContainedToken | None:
    """The token ``value`` is, when it passes every check of the module's description."""
    if not value or len(value) > MAX_TOKEN_LENGTH or value.count(".") != 2:
        return None
    try:
        obj = jws.extract_compact(value.encode("ascii"))
        header = obj.headers()
        alg = header.get("alg")
        key = next((k for k in keys if k.kid == header.get("kid")), None)
        if (key is None or header.get("typ") != TOKEN_TYPE or alg not in SUPPORTED_ALGS
                or key.alg != alg or not jws.validate_compact(obj, key, [alg])):
            return None
        claims = json.loads(obj.payload or b"")
    except (JoseError, ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != issuer:
        return None
    client_id, jti, scope = claims.get("client_id"), claims.get("jti"), claims.get("scope")
    iat, exp, aud = claims.get("iat"), claims.get("exp"), claims.get("aud")
    if not (isinstance(client_id, str) and claims.get("sub") == client_id
            and isinstance(jti, str) and isinstance(scope, str)
            and _is_time(iat) and _is_time(exp) and isinstance(aud, str | list)):
        return None
    if utcnow().timestamp() >= exp:
        return None
    client = find_client(client_id)
    if client is None:
        return None
    return SelfContainedToken(value_hash=digest(value), jti=jti, client=client, scope=scope,
                              audience=aud, iat=iat, exp=exp)


def _is_time(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
