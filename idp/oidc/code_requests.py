"""A confidential client's usual code exchange answered from its raw parts, before Flask and past
Authlib's generic request handling, with the same claim of the code, tokens, ID token, storage,
metric and response as Authlib's path (``idp.oidc.grants.CodeGrant`` with its OpenID Connect
and PKCE extensions).

The end of every login: Flask's request, context and hooks, then Authlib wrapping the request,
picking a grant class by trying each, making a grant object with its hooks and trying the client
authentication methods in turn, and the ORM session's execution around the two statements,
cost about half the request's CPU (bench/profile.py ``login``, step "token, code"). ``issue``
takes only a request that Authlib's path answers with tokens:

* a form body of ``grant_type=authorization_code``, a ``code``, and at most a ``redirect_uri``
  and a ``code_verifier``, each once, with no query;
* a transport and HTTP Basic credentials Authlib accepts (``idp.oidc.basic_clients``), of a
  client that this process remembers (no database read) and that may use this grant;
* a code that ``claim_code`` claims (PostgreSQL: live, unused and this client's), whose
  ``redirect_uri`` and PKCE challenge the request matches as Authlib checks them (its own
  check of the verifier runs here), and whose login session has its ``sid``.

The claim and the tokens' rows are one transaction on one pooled connection, the driver's own
(``idp.storage.driver``: SQLAlchemy's execution around the two statements cost more than the
driver's work), committed before the answer. Anything else returns ``None`` with nothing
changed (a claimed code is released: its transaction is rolled back), and the request goes the
whole way through Flask and Authlib, which answer it as they always have: every error, a
reused code (whose tokens are revoked), SQLite. Not sent: Authlib's ``client_authenticated``
signal, which nothing in the provider listens to.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oidc.core.grants.util import is_openid_scope
from sqlalchemy import Connection, ScalarResult
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from idp.metrics import record
from idp.oidc.basic_clients import METHOD, Issued, usual_token_request
from idp.oidc.grants import CodeGrant, OpenIDCodeExtension, PkceExtension
from idp.oidc.tokens import store_issued
from idp.storage.clients import Client
from idp.storage.code_rows import ClaimedCode, CodePerson, SessionSid, claim_code
from idp.storage.driver import DriverConnection
from idp.storage.tokens import AuthorizationCode

if TYPE_CHECKING:
    from idp.context import Services
    from idp.oidc.server import CampusAuthorizationServer

GRANT_TYPE: str = CodeGrant.GRANT_TYPE
PARAMETERS = frozenset({"grant_type", "code", "redirect_uri", "code_verifier"})
PAYLOAD = BasicOAuth2Payload({"grant_type": GRANT_TYPE})
HEADERS: list[tuple[str, str]] = list(CodeGrant.TOKEN_RESPONSE_HEADER)
Headers = Callable[[bytes], list[tuple[str, str]]]
PKCE = PkceExtension()  # as the server registers it: required for clients without a secret
# Where Authlib's grant logs the tokens it issues (at debug level, their values redacted by
# idp.logs): the same line from here, for whoever debugs a login.
AUTHLIB_LOG = logging.getLogger(AuthorizationCodeGrant.__module__)


class Declined(Exception):
    """The request is Authlib's to answer after all (its transaction rolled back)."""


@dataclass
class CodeRequest:
    """What Authlib's checks, the ID token and ``store_issued`` read of Authlib's request."""

    client: Client
    form: dict[str, str]
    authorization_code: ClaimedCode
    user: CodePerson
    auth_method: str = METHOD
    payload: BasicOAuth2Payload = PAYLOAD
    refresh_token: None = None


@dataclass
class _Grant:
    """The grant as the PKCE check reads it (its request)."""

    request: CodeRequest


class Reads:
    """A connection of the read engine, opened only if a read needs it: the exchange's own
    runs past SQLAlchemy (``idp.storage.driver``), and the ID token may read the person's
    grants (``granted_entitlements``: a ``scalars`` call) or a release policy not remembered
    (through an ORM session). Neither is written by the exchange, so a connection of its own
    reads what the exchange's transaction would (each statement sees what is committed)."""

    def __init__(self, services: Services) -> None:
        self.engine = services.reads if services.reads is not None else services.engine
        self.opened: list[Connection] = []
        self.sessions: list[Session] = []

    def connection(self) -> Connection:
        if not self.opened:
            self.opened.append(self.engine.connect())
        return self.opened[0]

    def scalars(self, statement: Executable) -> ScalarResult[Any]:
        return self.connection().scalars(statement)

    def session(self) -> Session:
        if not self.sessions:
            self.sessions.append(Session(bind=self.connection()))
        return self.sessions[0]

    def close(self) -> None:
        for session in self.sessions:
            session.close()
        for connection in self.opened:
            connection.close()


class LaneIdToken(OpenIDCodeExtension):
    """The OpenID Connect extension's ID token, with the services and reads given rather than
    the request context's; a login session without its ``sid`` yet is Authlib's path's (it
    names one, a write through the ORM)."""

    def __init__(self, services: Services, reads: Reads) -> None:
        super().__init__(require_nonce=False)
        self.given = services
        self.reads = reads

    def services(self) -> Services:
        return self.given

    def database(self) -> Connection:
        return cast(Connection, self.reads)  # all that is read of it is ``scalars``

    def orm_session(self) -> Session:
        return self.reads.session()

    def get_authorization_code_claims(self, authorization_code: ClaimedCode | AuthorizationCode,
                                      ) -> dict[str, Any]:
        login = authorization_code.login_session
        if isinstance(login, SessionSid) and login.sid is None:
            raise Declined("a login session without its sid")
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        return claims


def issue(server: CampusAuthorizationServer, services: Services, *, scheme: str, host: str,
          authorization: str, body: bytes, headers: Headers = lambda _: HEADERS) -> Issued | None:
    """The token response to a request of these parts, or None when Authlib's path must
    answer it (``body``: the form, of the form's content type; ``headers``: the response's,
    of its body, made before the commit: once the code is claimed, nothing may fail and leave
    the request to Authlib)."""
    if services.engine.dialect.name != "postgresql":
        return None
    usual = usual_token_request(services.clients, scheme=scheme, host=host,
                                authorization=authorization, body=body, allowed=PARAMETERS,
                                grant_type=GRANT_TYPE, required="code")
    if usual is None:
        return None
    params, client = usual
    services.keyring()  # any reload of the signing keys done before the transaction begins
    with DriverConnection(services.engine) as connection:
        try:
            body = _exchange(server, services, connection, client, params)
        except Declined:
            return None  # rolled back as the connection goes back to the pool
        answer = Issued(client.client_id, body, headers(body))
        # Counted before the commit, as Authlib's save_token counts it: after the commit
        # nothing may fail and leave the request to the view, which would call it a reuse.
        record.token_issued(GRANT_TYPE, client.client_id)
        connection.commit()
    return answer


def _exchange(server: CampusAuthorizationServer, services: Services,
              connection: DriverConnection, client: Client, params: dict[str, str]) -> bytes:
    """Authlib's ``validate_token_request`` past the client, ``create_token_response`` and the
    ID token, in its order, to the response's body; raises ``Declined`` where Authlib's path
    would answer otherwise."""
    code = claim_code(connection, params["code"], client.id)
    if code is None:
        raise Declined("unknown, another client's, used or expired")
    original = code.get_redirect_uri()
    if original and params.get("redirect_uri") != original:
        raise Declined("another redirect_uri")
    request = CodeRequest(client, params, code, code.identity)
    try:
        PKCE.validate_code_verifier(_Grant(request), None)
    except OAuth2Error as refused:
        raise Declined("the PKCE verifier") from refused
    token: dict[str, Any] = server.generate_token(
        grant_type=GRANT_TYPE, client=client, user=code.identity, scope=code.get_scope(),
        include_refresh_token=client.check_grant_type("refresh_token"))
    AUTHLIB_LOG.debug("Issue token %r to %r", token, client)  # Authlib's line, redacted by idp.logs
    store_issued(connection, services.settings.oidc, token, request)
    scope = token.get("scope")
    if scope and is_openid_scope(scope):
        reads = Reads(services)
        try:
            token["id_token"] = LaneIdToken(services, reads).encode_id_token(token, request)
        finally:
            reads.close()
    # Flask's JSON of Authlib's response (sorted keys, ASCII only), made before the commit.
    return json.dumps(token, sort_keys=True).encode()
