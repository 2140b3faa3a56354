"""A service's usual client credentials request answered from its raw parts, before Flask and
past Authlib's generic request handling, with the same token, storage, metric and response as
Authlib's path (``idp.oidc.client_credentials.ServiceGrant``).

For a service asking for a self-contained token, the request's own work was mostly the
framework's: Flask's request and context objects, its hooks, then Authlib wrapping the request
again, picking a grant class by trying each and trying the client authentication methods in
turn (bench/profile.py, ``cc-es256``). ``issue`` takes only a request Authlib's path answers
with a token:

* a form body of ``grant_type=client_credentials`` and at most a ``scope``, each once, and no
  query;
* a transport Authlib accepts (``is_secure_transport``, judged on the same scheme and host);
* HTTP Basic credentials (RFC 6749 2.3.1) that Authlib reads alike, of a live client (not
  disabled) that this
  process remembers (``ClientCache.remembered``: no database read here), whose secret they
  carry, that may authenticate with ``client_secret_basic`` and use this grant;
* a scope the client may have (``service_scope``).

It answers with the server's own token generator, the storage of ``save_token`` (an opaque
token's row, in a session of its own, committed), its metric, and Authlib's response (the same
JSON, the same headers). Anything else, every error included, returns ``None``, and the request
goes the whole way through Flask and Authlib, which answer it as they always have
(``invalid_client`` with ``WWW-Authenticate``, ``invalid_scope``, ``unauthorized_client``, a
client read afresh from the database). Nothing here has an effect before the token is made, so
a request that falls through is as if it had not been here. Not sent: Authlib's
``client_authenticated`` signal, which nothing in the provider listens to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from idp.metrics import record
from idp.oidc.basic_clients import Issued, usual_token_request
from idp.oidc.client_credentials import ServiceGrant, service_scope
from idp.oidc.tokens import is_self_contained, store_issued
from idp.storage.clients import Client

if TYPE_CHECKING:
    from idp.context import Services
    from idp.oidc.server import CampusAuthorizationServer

GRANT_TYPE: str = ServiceGrant.GRANT_TYPE
PARAMETERS = frozenset({"grant_type", "scope"})
PAYLOAD = BasicOAuth2Payload({"grant_type": GRANT_TYPE})
HEADERS: list[tuple[str, str]] = list(ServiceGrant.TOKEN_RESPONSE_HEADER)


@dataclass(frozen=True)
class ServiceRequest:
    """What ``store_issued`` reads of Authlib's request, for this grant's token."""

    client: Client
    payload: BasicOAuth2Payload = PAYLOAD
    user: None = None
    authorization_code: None = None
    refresh_token: None = None


def issue(server: CampusAuthorizationServer, services: Services, *, scheme: str, host: str,
          authorization: str, body: bytes) -> Issued | None:
    """The token response to a request of these parts, or None when Authlib's path must
    answer it (``body``: the form, of the form's content type)."""
    usual = usual_token_request(services.clients, scheme=scheme, host=host,
                                authorization=authorization, body=body, allowed=PARAMETERS,
                                grant_type=GRANT_TYPE)
    if usual is None:
        return None
    params, client = usual
    try:
        scope = service_scope(client, params.get("scope"))
    except InvalidScopeError:
        return None
    token: dict[str, Any] = server.generate_token(grant_type=GRANT_TYPE, client=client,
                                                  scope=scope, include_refresh_token=False)
    if not is_self_contained(GRANT_TYPE, client, token["access_token"]):
        with services.sessions() as db:
            store_issued(db, services.settings.oidc, token, ServiceRequest(client))
            db.commit()
    record.token_issued(GRANT_TYPE, client.client_id)
    return Issued(client.client_id, json.dumps(token).encode(), HEADERS)
