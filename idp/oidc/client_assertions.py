"""``private_key_jwt`` client authentication (RFC 7523 sections 2.2 and 3; OpenID Connect
Core 9) at the token, introspection, revocation and pushed authorization request endpoints.

Order of checks: the assertion type; a readable JWT whose ``alg`` is one we allow (never
``none`` or a MAC); ``iss`` = ``sub`` = a client registered for private_key_jwt; the signature
under that client's keys (``idp.oidc.client_keys``); ``aud`` naming this provider (its issuer,
token endpoint or PAR endpoint); ``exp`` present and at most ``MAX_LIFETIME_S`` ahead; a
``jti`` never seen before for this client. The ``jti`` is spent in a transaction of its own,
committed at once, so that a request failing later cannot make the assertion usable again.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from joserfc import jws, jwt
from joserfc.errors import JoseError

from idp import context
from idp.oidc.client_keys import ASSERTION_ALGS, ClientKeys, ClientKeysError
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.client_assertions import MAX_JTI_LENGTH, spend_jti
from idp.storage.clients import PRIVATE_KEY_JWT, Client

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME_S = 300
LEEWAY_S = 30
MAX_ASSERTION_LENGTH = 8192


def _refuse(description: str) -> InvalidClientError:
    return InvalidClientError(description=description)


def unverified_parts(value: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, before any check: only to find the client and key."""
    if len(value) > MAX_ASSERTION_LENGTH:
        raise ValueError("too long")
    compact = jws.extract_compact(value.encode("ascii"))
    claims = json.loads(compact.payload)
    if not isinstance(claims, dict):
        raise ValueError("claims are not an object")
    return dict(compact.headers()), claims


class PrivateKeyJwt:
    """Authlib's client authentication method contract: ``(query_client, request) -> client``
    or None when the request does not use this method."""

    def __init__(self, issuer: str, audiences: list[str], keys: ClientKeys) -> None:
        self.issuer = issuer
        self.audiences = audiences
        self.keys = keys

    def __call__(self, query_client: Any, request: Any) -> Client | None:
        form = request.form
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            return None
        try:
            header, unverified = unverified_parts(assertion)
        except (JoseError, ValueError, UnicodeError):
            raise _refuse("The client assertion is not a signed JWT.") from None
        alg = header.get("alg")
        if alg not in ASSERTION_ALGS:
            raise _refuse(f"The client assertion must be signed with one of {', '.join(ASSERTION_ALGS)}.")
        client_id = unverified.get("sub")
        client: Client | None = query_client(client_id) if isinstance(client_id, str) else None
        if client is None or not client.check_endpoint_auth_method(PRIVATE_KEY_JWT, "token"):
            raise _refuse("The assertion's subject is not a client registered for private_key_jwt.")
        given_id = form.get("client_id")
        if given_id is not None and given_id != client.client_id:
            raise _refuse("client_id does not match the client assertion.")
        claims = self._verify(client, assertion, header)
        self._spend(client, claims)
        return client

    def _verify(self, client: Client, assertion: str, header: dict[str, Any]) -> dict[str, Any]:
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        try:
            keys = self.keys.keys_for(client, kid)
            token = jwt.decode(assertion, keys, algorithms=[str(header["alg"])])
        except ClientKeysError as error:
            raise _refuse(str(error)) from None
        except JoseError as error:
            log.info("client assertion of %s refused: %s", client.client_id, error)
            raise _refuse("The client assertion's signature does not verify with the client's "
                          "keys.") from None
        claims = dict(token.claims)
        self._check_claims(client, claims)
        return claims

    def _check_claims(self, client: Client, claims: dict[str, Any]) -> None:
        if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
            raise _refuse("The client assertion's iss and sub must both be the client_id.")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(a in self.audiences for a in audiences):
            raise _refuse(f"The client assertion's aud must name this provider ({self.issuer}).")
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise _refuse("The client assertion must have an exp.")
        if exp <= now - LEEWAY_S:
            raise _refuse("The client assertion has expired.")
        if exp > now + MAX_LIFETIME_S + LEEWAY_S:
            raise _refuse(f"The client assertion's exp is more than {MAX_LIFETIME_S} seconds ahead.")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not isinstance(value, int | float) or value > now + LEEWAY_S):
                raise _refuse(f"The client assertion's {name} is in the future.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise _refuse("The client assertion must have a jti (a string).")

    def _spend(self, client: Client, claims: dict[str, Any]) -> None:
        db = context.db()
        expires_at = datetime.fromtimestamp(float(claims["exp"]) + LEEWAY_S, UTC)
        spent = spend_jti(db, client.id, claims["jti"], expires_at)
        if not spent:
            audit.record(db, AuditEventType.CLIENT_ASSERTION_REPLAYED, actor="client",
                         client_id=client.client_id, jti=str(claims["jti"])[:64])
        db.commit()
        if not spent:
            raise _refuse("The client assertion has been used before (jti).")
