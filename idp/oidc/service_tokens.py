"""A service's usual client credentials request answered past Authlib's generic request
handling, with the same token, storage, metrics and response as Authlib's path.

Before its grant does anything, Authlib's token endpoint wraps the request (the URL rebuilt
and checked), picks a grant class by trying each, makes a grant object and tries the client
authentication methods in turn; for a service asking for a self-contained token that was most
of the request's own work (bench/profile.py, ``cc-es256``). ``issue`` takes only a request
that Authlib's path (``idp.oidc.client_credentials.ServiceGrant``) answers with a token:

* no query, and a form body of ``grant_type=client_credentials`` and at most a ``scope``, each
  once;
* a transport Authlib accepts (``is_secure_transport``, judged on the same scheme and host);
* HTTP Basic credentials (RFC 6749 2.3.1) that Authlib reads alike, of a live client whose
  secret they carry, that may authenticate with ``client_secret_basic`` and use this grant;
* a scope the client may have (``service_scope``).

It answers with the server's own token generator, ``save_token`` (storage when the token is
stored, the metric) and ``handle_response``. Anything else, every error included, returns
``None`` and the request goes the whole way through Authlib, which answers it as it always
has (``invalid_client`` with ``WWW-Authenticate``, ``invalid_scope``, ``unauthorized_client``,
``unsupported_grant_type``). Nothing here has an effect before the token is made, so a request
that falls through is as if it had not been here. Not sent: Authlib's
``client_authenticated`` signal, which nothing in the provider listens to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Request

from idp.oidc.client_credentials import ServiceGrant, service_scope
from idp.oidc.server import CampusAuthorizationServer, basic_credentials_readable
from idp.storage.clients import Client

GRANT_TYPE: str = ServiceGrant.GRANT_TYPE
FORM = "application/x-www-form-urlencoded"
PARAMETERS = frozenset({"grant_type", "scope"})
PAYLOAD = BasicOAuth2Payload({"grant_type": GRANT_TYPE})
INSECURE_TRANSPORT = "AUTHLIB_INSECURE_TRANSPORT"  # Authlib's switch, read on every request


@dataclass(frozen=True)
class ServiceRequest:
    """What the server's ``save_token`` reads of Authlib's request, for this grant's token."""

    client: Client
    payload: BasicOAuth2Payload = PAYLOAD
    user: None = None
    authorization_code: None = None
    refresh_token: None = None


def issue(server: CampusAuthorizationServer, request: Request) -> Any:
    """The token response to ``request``, or None when Authlib's path must answer it."""
    params = _parameters(request)
    if params is None or not _secure(request.scheme, request.host):
        return None
    client = _authenticated(server, request)
    if client is None:
        return None
    try:
        scope = service_scope(client, params.get("scope"))
    except InvalidScopeError:
        return None
    token = server.generate_token(grant_type=GRANT_TYPE, client=client, scope=scope,
                                  include_refresh_token=False)
    server.save_token(token, ServiceRequest(client))
    return server.handle_response(200, token, ServiceGrant.TOKEN_RESPONSE_HEADER)


def _secure(scheme: str, host: str) -> bool:
    """Authlib's judgement of the transport, which reads the scheme and host alone."""
    return bool(os.getenv(INSECURE_TRANSPORT)) or _secure_origin(f"{scheme}://{host}/")


@lru_cache(maxsize=64)
def _secure_origin(origin: str) -> bool:
    """Remembered: parsing the host as an address (a loopback one may use http) cost as much
    as the rest of the checks."""
    return bool(is_secure_transport(origin))


def _parameters(request: Request) -> dict[str, str] | None:
    """The form's parameters when they are this grant's alone, each given once."""
    if request.args or request.mimetype != FORM:
        return None
    pairs = list(request.form.items(multi=True))
    params = dict(pairs)
    if (len(params) != len(pairs) or params.get("grant_type") != GRANT_TYPE
            or not params.keys() <= PARAMETERS):
        return None
    return params


def _authenticated(server: CampusAuthorizationServer, request: Request) -> Client | None:
    """The client of the request's HTTP Basic credentials, when Authlib would authenticate it
    by them for this grant."""
    if not basic_credentials_readable(request):
        return None
    client_id, secret = extract_basic_authorization(request.headers)
    if not client_id or not secret:
        return None
    client = server.query_client(client_id)
    if (client is None or not client.check_client_secret(secret)
            or not client.check_endpoint_auth_method("client_secret_basic", "token")
            or not client.check_grant_type(GRANT_TYPE)):
        return None
    return client
