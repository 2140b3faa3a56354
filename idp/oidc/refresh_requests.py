"""A confidential client's usual refresh request answered from its raw parts, before Flask and
past Authlib's generic request handling, with the same spending, token, storage, metric and
response as Authlib's path (``idp.oidc.refresh.RefreshGrant``).

Before the grant does anything, Authlib's token endpoint wraps the request (the URL rebuilt and
checked), picks a grant class by trying each, makes a grant object and tries the client
authentication methods in turn; and Flask's request, context and session objects cost as much
again (bench/profile.py, ``refresh``). ``issue`` takes only a request that Authlib's path
answers with a token:

* a form body of ``grant_type=refresh_token`` and a ``refresh_token``, each once, with no
  ``scope`` (a narrowing is Authlib's to check) and no query;
* a transport and HTTP Basic credentials Authlib accepts (``idp.oidc.basic_clients``), of a
  client that this process remembers (no database read) and that may use this grant;
* a refresh token that ``spend_refresh_token`` spends: live and this client's.

The spending and the new tokens' rows are one transaction on one pooled connection, committed
before the answer, with no ORM session around it (on PostgreSQL the driver's connection itself,
``idp.storage.driver``). Anything else returns ``None`` with nothing
changed (a token that is not spent is left as it was: its transaction is rolled back), and the
request goes the whole way through Flask and Authlib, which answer it as they always have,
reuse detection included. Not sent: Authlib's ``client_authenticated`` signal, which nothing
in the provider listens to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from sqlalchemy import Connection, Engine

from idp.metrics import record
from idp.oidc.basic_clients import Issued, usual_token_request
from idp.oidc.refresh import RefreshGrant
from idp.oidc.tokens import store_issued
from idp.storage.clients import Client
from idp.storage.driver import DriverConnection
from idp.storage.refresh_rows import RefreshPerson, SpentRefreshToken, spend_refresh_token

if TYPE_CHECKING:
    from idp.context import Services
    from idp.oidc.server import CampusAuthorizationServer

GRANT_TYPE: str = RefreshGrant.GRANT_TYPE
PARAMETERS = frozenset({"grant_type", "refresh_token"})
PAYLOAD = BasicOAuth2Payload({"grant_type": GRANT_TYPE})
HEADERS: list[tuple[str, str]] = list(RefreshGrant.TOKEN_RESPONSE_HEADER)


@dataclass(frozen=True)
class RefreshRequest:
    """What ``store_issued`` reads of Authlib's request, for this grant's token."""

    client: Client
    user: RefreshPerson
    refresh_token: SpentRefreshToken
    payload: BasicOAuth2Payload = PAYLOAD
    authorization_code: None = None


def issue(server: CampusAuthorizationServer, services: Services, *, scheme: str, host: str,
          authorization: str, body: bytes) -> Issued | None:
    """The token response to a request of these parts, or None when Authlib's path must
    answer it (``body``: the form, of the form's content type)."""
    usual = usual_token_request(services.clients, scheme=scheme, host=host,
                                authorization=authorization, body=body, allowed=PARAMETERS,
                                grant_type=GRANT_TYPE, required="refresh_token")
    if usual is None:
        return None
    params, client = usual
    services.keyring()  # any reload of the signing keys done before the transaction begins
    with _connection(services.engine) as connection:
        spent = spend_refresh_token(connection, params["refresh_token"], client)
        if spent is None:
            return None  # rolled back as the connection goes back to the pool
        token: dict[str, Any] = server.generate_token(
            grant_type=GRANT_TYPE, client=client, user=spent.identity, scope=spent.get_scope(),
            include_refresh_token=RefreshGrant.INCLUDE_NEW_REFRESH_TOKEN)
        store_issued(connection, services.settings.oidc, token,
                     RefreshRequest(client, spent.identity, spent))
        # Flask's JSON of Authlib's response (sorted keys, ASCII only), made before the
        # commit: once the token is spent, nothing may fail and leave the request to Authlib.
        answer = Issued(client.client_id, json.dumps(token, sort_keys=True).encode(), HEADERS)
        connection.commit()
    record.token_issued(GRANT_TYPE, client.client_id)
    return answer


def _connection(engine: Engine) -> Connection | DriverConnection:
    """On PostgreSQL the driver's own (``idp.storage.driver``: the spending and the storage
    need no type processing there); elsewhere SQLAlchemy's."""
    return DriverConnection(engine) if engine.dialect.name == "postgresql" else engine.connect()
