"""The checks of Authlib's generic request handling that a narrow path past it must make alike
(``basic_introspection``, ``refresh_requests``, ``service_tokens``, ``code_requests``): the
form and a client's HTTP Basic credentials (RFC 6749 2.3.1), each answered as Authlib would
answer it; over a request object, or over a request's raw parts (a fast lane,
``idp.web.lanes``). The transport: ``idp.oidc.transport``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Request

from idp.oidc.server import CampusAuthorizationServer, basic_credentials_readable
from idp.oidc.transport import secure_origin
from idp.storage.client_cache import ClientCache
from idp.storage.clients import Client

FORM = "application/x-www-form-urlencoded"
METHOD = "client_secret_basic"


def form_parameters(request: Request, allowed: frozenset[str]) -> dict[str, str] | None:
    """The form's parameters when they are among ``allowed``, each given once, with no query."""
    if request.args or request.mimetype != FORM:
        return None
    pairs = list(request.form.items(multi=True))
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= allowed:
        return None
    return params


def basic_client(server: CampusAuthorizationServer, request: Request,
                 endpoint: str) -> Client | None:
    """The client of the request's HTTP Basic credentials, when Authlib would authenticate it
    by them at ``endpoint`` (a live client whose secret they carry, allowed that method)."""
    if not basic_credentials_readable(request):
        return None
    client_id, secret = extract_basic_authorization(request.headers)
    if not client_id or not secret:
        return None
    client = server.query_client(client_id)
    if (client is None or not client.check_client_secret(secret)
            or not client.check_endpoint_auth_method(METHOD, endpoint)):
        return None
    return client


@dataclass(frozen=True)
class Issued:
    """A token response made past Flask (``service_tokens``, ``refresh_requests``), as Authlib's
    Flask integration makes it; ``client_id`` for the access line."""

    client_id: str
    body: bytes
    headers: list[tuple[str, str]]


def raw_form(body: bytes, allowed: frozenset[str]) -> dict[str, str] | None:
    """``form_parameters`` of a body of the form's content type (the lane checked the type and
    that there is no query), read as Werkzeug reads a form: UTF-8, a bad byte replaced, blank
    values kept."""
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                          errors="replace", max_num_fields=len(allowed))
    except ValueError:  # more fields than allowed
        return None
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= allowed:
        return None
    return params


def remembered_client(clients: ClientCache, authorization: str, endpoint: str) -> Client | None:
    """``basic_client`` of an Authorization header, from the clients this process remembers
    (nothing read from the database): None too when the client is not remembered, for the
    usual path to look it up."""
    try:
        client_id, secret = extract_basic_authorization({"Authorization": authorization})
    except ValueError:  # not base64 of UTF-8: the usual path answers invalid_client
        return None
    if not client_id or not secret:
        return None
    client = clients.remembered(client_id)
    if (client is None or client.disabled  # as unknown to Authlib (``query_client``)
            or not client.check_client_secret(secret)
            or not client.check_endpoint_auth_method(METHOD, endpoint)):
        return None
    return client


def usual_token_request(clients: ClientCache, *, scheme: str, host: str, authorization: str,
                        body: bytes, allowed: frozenset[str], grant_type: str,
                        required: str | None = None) -> tuple[dict[str, str], Client] | None:
    """What a token lane starts from: the form (``raw_form`` of ``allowed``) asking for
    ``grant_type``, with ``required`` given, over a secure transport, from a remembered client
    allowed that grant; or None when Authlib's path must answer the request."""
    params = raw_form(body, allowed)
    if (params is None or params.get("grant_type") != grant_type
            or (required is not None and not params.get(required))
            or not secure_origin(scheme, host)):
        return None
    client = remembered_client(clients, authorization, "token")
    if client is None or not client.check_grant_type(grant_type):
        return None
    return params, client
