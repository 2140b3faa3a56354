"""A resource server's usual introspection request (RFC 7662 2.1) answered past Authlib's generic
request handling, with the same token lookup, checks, payload and response as Authlib's path
(``idp.oidc.introspection.Introspection``).

Before the endpoint does anything, Authlib wraps the request (the URL rebuilt and checked) and
tries the client authentication methods in turn; for introspection that was a fifth of the
request's own work (bench/profile.py, ``introspection``). ``answer`` takes only a request that
Authlib's path answers with 200:

* no query, and a form body of a non-empty ``token`` and at most a ``token_type_hint``, each
  once;
* a transport Authlib accepts (``is_secure_transport``, judged on the same scheme and host);
* HTTP Basic credentials (RFC 6749 2.3.1) that Authlib reads alike, of a live client whose
  secret they carry and that may authenticate with ``client_secret_basic`` at this endpoint.

It answers with the endpoint's own ``query_token``, ``check_permission`` and
``create_introspection_payload`` and the server's ``handle_response``. Anything else returns
``None`` before any effect, and the request goes the whole way through Authlib, which answers
it as it always has (``invalid_client`` with ``WWW-Authenticate``, ``invalid_request``, a
secret checked again on fresh rows). Not sent: Authlib's ``client_authenticated`` signal,
which nothing in the provider listens to.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Request

from idp.oidc.introspection import Introspection
from idp.oidc.server import CampusAuthorizationServer, basic_credentials_readable
from idp.storage.clients import Client

FORM = "application/x-www-form-urlencoded"
PARAMETERS = frozenset({"token", "token_type_hint"})
METHOD = "client_secret_basic"
INSECURE_TRANSPORT = "AUTHLIB_INSECURE_TRANSPORT"  # Authlib's switch, read on every request
ENDPOINT = Introspection()  # its token methods read nothing of the server


def answer(server: CampusAuthorizationServer, request: Request) -> Any:
    """The introspection response to ``request``, or None when Authlib's path must answer."""
    params = _parameters(request)
    if params is None or not _secure(request.scheme, request.host):
        return None
    client = _authenticated(server, request)
    if client is None:
        return None
    token = ENDPOINT.query_token(params["token"], params.get("token_type_hint"))
    if token is not None and not ENDPOINT.check_permission(token, client, None):
        token = None
    body = ENDPOINT.create_introspection_payload(token)
    return server.handle_response(200, body, default_json_headers)


def _parameters(request: Request) -> dict[str, str] | None:
    """The form's parameters when they are an introspection request's alone, each once."""
    if request.args or request.mimetype != FORM:
        return None
    pairs = list(request.form.items(multi=True))
    params = dict(pairs)
    if len(params) != len(pairs) or not params.get("token") or not params.keys() <= PARAMETERS:
        return None
    return params


def _secure(scheme: str, host: str) -> bool:
    """Authlib's judgement of the transport, which reads the scheme and host alone."""
    return bool(os.getenv(INSECURE_TRANSPORT)) or _secure_origin(f"{scheme}://{host}/")


@lru_cache(maxsize=64)
def _secure_origin(origin: str) -> bool:
    return bool(is_secure_transport(origin))


def _authenticated(server: CampusAuthorizationServer, request: Request) -> Client | None:
    """The client of the request's HTTP Basic credentials, when Authlib would authenticate it
    by them at this endpoint."""
    if not basic_credentials_readable(request):
        return None
    client_id, secret = extract_basic_authorization(request.headers)
    if not client_id or not secret:
        return None
    client = server.query_client(client_id)
    if (client is None or not client.check_client_secret(secret)
            or not client.check_endpoint_auth_method(METHOD, Introspection.ENDPOINT_NAME)):
        return None
    return client
