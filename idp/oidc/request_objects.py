"""Signed request objects: the ``request`` parameter (OpenID Connect Core 6.1, RFC 9101), at
the authorization endpoint and at the pushed authorization request endpoint.

Only signed objects are accepted (``alg: none`` is refused), with one of the algorithms we
allow and, when the client registered a ``request_object_signing_alg``, that one. The object
must come from the client (``iss``), be meant for this provider (``aud``), carry the same
``client_id`` as the request, and not have expired (``exp`` required, at most an hour ahead).
Its parameters replace those outside it (RFC 9101 5).
"""

from __future__ import annotations

import json
import time
from typing import Any

from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError
from joserfc import jwt
from joserfc.errors import JoseError

from idp.oidc.client_assertions import unverified_parts
from idp.oidc.client_keys import REQUEST_OBJECT_ALGS, ClientKeys, ClientKeysError
from idp.storage.clients import Client

MAX_LIFETIME_S = 3600
LEEWAY_S = 30
JWT_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "jti")


def _refuse(description: str) -> InvalidRequestObjectError:
    return InvalidRequestObjectError(description=description)


def decode_request_object(value: str, client: Client, keys: ClientKeys,
                          issuer: str) -> dict[str, str]:
    """The authorization parameters inside a verified request object, as strings."""
    try:
        header, _ = unverified_parts(value)
    except (JoseError, ValueError, UnicodeError):
        raise _refuse("The request object is not a signed JWT.") from None
    alg = header.get("alg")
    if alg not in REQUEST_OBJECT_ALGS:
        raise _refuse(f"Request objects must be signed with one of {', '.join(REQUEST_OBJECT_ALGS)}.")
    if client.request_object_signing_alg and alg != client.request_object_signing_alg:
        raise _refuse(f"This client signs its request objects with {client.request_object_signing_alg}.")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    try:
        token = jwt.decode(value, keys.keys_for(client, kid), algorithms=[str(alg)])
    except ClientKeysError as error:
        raise _refuse(str(error)) from None
    except JoseError:
        raise _refuse("The request object's signature does not verify with the client's keys.") from None
    claims = dict(token.claims)
    _check_claims(claims, client, issuer)
    return {name: _as_param(v) for name, v in claims.items() if name not in JWT_CLAIMS}


def _check_claims(claims: dict[str, Any], client: Client, issuer: str) -> None:
    if claims.get("iss") != client.client_id:
        raise _refuse("The request object's iss must be the client_id.")
    if claims.get("client_id") != client.client_id:
        raise _refuse("The request object's client_id must be the request's client_id.")
    aud = claims.get("aud")
    if issuer not in ([aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []):
        raise _refuse(f"The request object's aud must be this provider ({issuer}).")
    now = time.time()
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now - LEEWAY_S:
        raise _refuse("The request object has no exp or has expired.")
    if exp > now + MAX_LIFETIME_S + LEEWAY_S:
        raise _refuse(f"The request object's exp is more than {MAX_LIFETIME_S} seconds ahead.")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int | float) or nbf > now + LEEWAY_S):
        raise _refuse("The request object is not valid yet (nbf).")
    if "request" in claims or "request_uri" in claims:
        raise _refuse("A request object must not contain request or request_uri.")


def _as_param(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))
