"""Pushed authorization requests (RFC 9126) and how ``/authorize`` reads its parameters:
from the query, from a signed ``request`` object, or from a pushed request's ``request_uri``.

A pushed request is validated like an authorization request before it is stored (section 2.1),
lives ``PAR_LIFETIME_S`` seconds, belongs to the client that pushed it, and is spent by its
first use at ``/authorize`` (section 4). The browser that spent it keeps its parameters in its
signed session (``remembered``), so the same flow can continue through login and consent; so
does a browser that brought a valid request object, whose ``exp`` (a minute, for some
libraries) may pass while the person types a password.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc9101.errors import InvalidRequestUriError
from sqlalchemy.orm import Session

from idp.oidc.client_keys import ClientKeys
from idp.oidc.request_objects import decode_request_object
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.pushed_requests import claim, find_pushed, push
from idp.storage.tokens import digest

PAR_LIFETIME_S = 60
MAX_REMEMBERED = 3  # kept in the session cookie
# Client authentication travels with the pushed request but is not part of it.
AUTH_PARAMS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})

Validate = Callable[[dict[str, str]], None]
QueryClient = Callable[[str], Client | None]


def push_request(db: Session, client: Client, form: Mapping[str, str], keys: ClientKeys,
                 issuer: str, validate: Validate) -> str:
    """Validate and store; returns the request_uri. Raises Authlib's OAuth2Error."""
    if "request_uri" in form:
        raise InvalidRequestError("request_uri cannot be pushed (RFC 9126 2.1).")
    params = {k: v for k, v in form.items() if k not in AUTH_PARAMS}
    if "request" in params:
        params = decode_request_object(params["request"], client, keys, issuer)
    if params.get("client_id", client.client_id) != client.client_id:
        raise InvalidRequestError("client_id is not the authenticated client.")
    params["client_id"] = client.client_id
    validate(params)
    return push(db, client.id, params, PAR_LIFETIME_S)


def authorization_params(db: Session, query_client: QueryClient, params: dict[str, str],
                         keys: ClientKeys, issuer: str,
                         remembered: MutableMapping[str, Any]) -> dict[str, str]:
    """The parameters the authorization request really carries. An unknown (or disabled)
    client is left to Authlib, which answers it with an error page."""
    client = query_client(params.get("client_id", ""))
    if client is None:
        return params
    if "request" in params and "request_uri" in params:
        raise InvalidRequestError("Send request or request_uri, not both.")
    if "request_uri" in params:
        return _pushed(db, client, params["request_uri"], remembered)
    if client.require_pushed_authorization_requests:
        raise InvalidRequestError("This client must push its authorization requests (RFC 9126).")
    if "request" in params:
        key = "request:" + digest(params["request"])
        earlier = remembered.get(key)
        if isinstance(earlier, dict) and earlier.get("client_id") == client.client_id:
            return dict(earlier)
        decoded = decode_request_object(params["request"], client, keys, issuer)
        _remember(remembered, key, decoded)
        return decoded
    return params


def _pushed(db: Session, client: Client, request_uri: str,
            remembered: MutableMapping[str, Any]) -> dict[str, str]:
    earlier = remembered.get(request_uri)
    if isinstance(earlier, dict) and earlier.get("client_id") == client.client_id:
        return dict(earlier)
    found = find_pushed(db, request_uri)
    if found is None or found.client_pk != client.id:
        raise InvalidRequestUriError(description="The request_uri is unknown to this client.")
    if found.used_at is not None or not claim(db, found):
        raise InvalidRequestUriError(description="The request_uri has already been used.")
    if found.expires_at <= utcnow():
        raise InvalidRequestUriError(description="The request_uri has expired.")
    params = {str(k): str(v) for k, v in found.params.items()}
    _remember(remembered, request_uri, params)
    return params


def _remember(remembered: MutableMapping[str, Any], key: str, params: dict[str, str]) -> None:
    while len(remembered) >= MAX_REMEMBERED:
        remembered.pop(next(iter(remembered)))
    remembered[key] = params
