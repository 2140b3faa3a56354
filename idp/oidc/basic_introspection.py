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

from typing import Any

from authlib.consts import default_json_headers
from flask import Request

from idp.oidc.basic_clients import basic_client, form_parameters
from idp.oidc.introspection import Introspection
from idp.oidc.server import CampusAuthorizationServer
from idp.oidc.transport import secure

PARAMETERS = frozenset({"token", "token_type_hint"})
ENDPOINT = Introspection()  # its token methods read nothing of the server


def answer(server: CampusAuthorizationServer, request: Request) -> Any:
    """The introspection response to ``request``, or None when Authlib's path must answer."""
    params = form_parameters(request, PARAMETERS)
    if params is None or not params.get("token") or not secure(request):
        return None
    client = basic_client(server, request, Introspection.ENDPOINT_NAME)
    if client is None:
        return None
    token = ENDPOINT.query_token(params["token"], params.get("token_type_hint"))
    if token is not None and not ENDPOINT.check_permission(token, client, None):
        token = None
    body = ENDPOINT.create_introspection_payload(token)
    return server.handle_response(200, body, default_json_headers)
