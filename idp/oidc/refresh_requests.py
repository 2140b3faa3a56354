"""A confidential client's usual refresh request answered past Authlib's generic request
handling, with the same spending, token, storage, metric and response as Authlib's path
(``idp.oidc.refresh.RefreshGrant``).

Before the grant does anything, Authlib's token endpoint wraps the request (the URL rebuilt and
checked), picks a grant class by trying each, makes a grant object and tries the client
authentication methods in turn (bench/profile.py, ``refresh``). ``issue`` takes only a request
that Authlib's path answers with a token:

* a form body of ``grant_type=refresh_token`` and a ``refresh_token``, each once, with no
  ``scope`` (a narrowing is Authlib's to check) and no query;
* a transport and HTTP Basic credentials Authlib accepts (``idp.oidc.basic_clients``), of a
  client that may use this grant;
* a refresh token that ``spend_refresh_token`` spends: live and this client's.

It answers with the server's own token generator, ``save_token`` and ``handle_response``, in
the request's unit of work, which the token view commits. Anything else returns ``None`` with
nothing changed (a token that is not spent is left as it was), and the request goes the whole
way through Authlib, which answers it as it always has, reuse detection included. Not sent:
Authlib's ``client_authenticated`` signal, which nothing in the provider listens to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Request

from idp import context
from idp.oidc.basic_clients import basic_client, form_parameters, secure
from idp.oidc.refresh import RefreshGrant
from idp.oidc.server import CampusAuthorizationServer
from idp.storage.clients import Client
from idp.storage.refresh_rows import RefreshPerson, SpentRefreshToken, spend_refresh_token

GRANT_TYPE: str = RefreshGrant.GRANT_TYPE
PARAMETERS = frozenset({"grant_type", "refresh_token"})
PAYLOAD = BasicOAuth2Payload({"grant_type": GRANT_TYPE})


@dataclass(frozen=True)
class RefreshRequest:
    """What the server's ``save_token`` reads of Authlib's request, for this grant's token."""

    client: Client
    user: RefreshPerson
    refresh_token: SpentRefreshToken
    payload: BasicOAuth2Payload = PAYLOAD
    authorization_code: None = None


def issue(server: CampusAuthorizationServer, request: Request) -> Any:
    """The token response to ``request``, or None when Authlib's path must answer it."""
    params = form_parameters(request, PARAMETERS)
    if (params is None or params.get("grant_type") != GRANT_TYPE
            or not params.get("refresh_token") or not secure(request)):
        return None
    client = basic_client(server, request, "token")
    if client is None or not client.check_grant_type(GRANT_TYPE):
        return None
    spent = spend_refresh_token(context.db(), params["refresh_token"], client)
    if spent is None:
        return None
    token = server.generate_token(grant_type=GRANT_TYPE, client=client, user=spent.identity,
                                  scope=spent.get_scope(),
                                  include_refresh_token=RefreshGrant.INCLUDE_NEW_REFRESH_TOKEN)
    server.save_token(token, RefreshRequest(client, spent.identity, spent))
    return server.handle_response(200, token, RefreshGrant.TOKEN_RESPONSE_HEADER)
