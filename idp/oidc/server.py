"""Authlib's authorization server bound to our storage: client lookup, the grants and
endpoints, token storage, and the one place where a reused code or refresh token turns into
revoked tokens and an audit event."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlparse, urlunparse

from authlib.common.urls import add_params_to_uri, url_encode
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749.errors import (
    InsecureTransportError,
    InvalidClientError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from flask import Flask, Request
from flask import request as flask_request
from werkzeug.datastructures import MultiDict

from idp import context
from idp.metrics import record
from idp.oidc.client_assertions import PrivateKeyJwt
from idp.oidc.client_credentials import ServiceGrant
from idp.oidc.client_keys import ClientKeys
from idp.oidc.grants import CodeGrant, CodeReusedError, OpenIDCodeExtension, PkceExtension
from idp.oidc.introspection import Introspection
from idp.oidc.refresh import RefreshGrant, RefreshTokenReusedError
from idp.oidc.revocation import Revocation
from idp.oidc.tokens import TokenGenerator, is_self_contained, store_issued
from idp.oidc.transport import secure
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import Client
from idp.storage.refresh_tokens import revoke_families_of_code, revoke_family
from idp.storage.tokens import revoke_tokens_of_code


@dataclass(frozen=True)
class ResolvedAuthorization:
    """An authorization request whose parameters came from a request object or a pushed
    request (``idp.oidc.pushed``) rather than from the query."""

    params: dict[str, str]


class CampusAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    client_keys: ClientKeys
    issuer: str

    def create_oauth2_request(self, request: Any) -> Any:
        """Authlib's request over this HTTP request, unless ``request`` carries resolved
        parameters. Made over the request object itself rather than Flask's proxy of it, with
        its parameters read once (``_Parameters``)."""
        current = flask_request._get_current_object()  # type: ignore[attr-defined]
        oauth_request = _Request(current)
        if isinstance(request, ResolvedAuthorization):
            oauth_request.payload = BasicOAuth2Payload(dict(request.params))
        else:
            oauth_request.payload = _Parameters(current)
        return oauth_request

    def create_authorization_response(self, request: Any = None, grant_user: Any = None,
                                      grant: Any = None) -> Any:
        """Authlib's, over the grant's own request when a grant is given: Authlib would wrap
        the HTTP request once more only to read its ``state`` for an error (and a request
        with resolved parameters carries it in the grant's request, not in the query)."""
        if request is None and grant is not None:
            request = grant.request
        return super().create_authorization_response(request, grant_user, grant)

    def validate_authorization_params(self, params: dict[str, str]) -> None:
        """Check a pushed request as /authorize would (RFC 9126 2.1), before any login;
        raises Authlib's OAuth2Error."""
        request = self.create_oauth2_request(ResolvedAuthorization(params))
        request.user = None
        grant = self.get_authorization_grant(request)
        grant.validate_no_multiple_request_parameter(request)
        grant.validate_authorization_request()

    def get_authorization_grant(self, request: Any) -> Any:
        """Authlib's, except for a response_type that its error description cannot repeat (a
        quote or control character, RFC 6749 4.1.2.1): refused on our error page."""
        sent = request.payload.response_type
        if sent and invalid_error_characters(sent):
            raise UnsupportedResponseTypeError(sent, "This response_type is not supported.")
        return super().get_authorization_grant(request)

    def query_client(self, client_id: str) -> Client | None:
        """A disabled client (admin UI) is as unknown here: it logs nobody in, gets no token."""
        client = context.client(client_id)
        return client if client is not None and client.disabled_at is None else None

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Any:
        """Client authentication, tried once more on fresh rows when a secret failed on
        remembered ones: a secret rotated by another program (the CLI) works at once."""
        if not basic_credentials_readable(request):
            raise InvalidClientError(status_code=401, description=(
                "The HTTP Basic credentials are not UTF-8 text (RFC 6749 2.3.1)."))
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            # Secrets only: checking one again has no side effect, whereas a client assertion
            # would be spent twice (jti) and its keys fetched twice.
            if not _presents_secret(request) or not context.forget_cached_clients():
                raise
            return super().authenticate_client(request, methods, endpoint)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store what needs storing, and count the token response."""
        if not is_self_contained(request.payload.grant_type, request.client, token["access_token"]):
            store_issued(context.db(), context.settings().oidc, token, request)
        # else nothing to store: no database session is opened, none committed
        record.token_issued(request.payload.grant_type, request.client.client_id)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Any:
        """Every response Authlib makes. A redirect is always an authorization response,
        success or error (the token, introspection, revocation and PAR endpoints answer the
        client directly), and each names this issuer (RFC 9207 2)."""
        if status == 302:
            headers = [(name, self.with_issuer(value) if name == "Location" else value)
                       for name, value in headers]
        return super().handle_response(status, body, headers)

    def with_issuer(self, location: str) -> str:
        """``add_params_to_uri(location, [("iss", issuer)])``, without decoding and encoding the
        query again: every redirect here was made by ``add_params_to_uri`` into the query, so
        its query is already what encoding its own parameters gives, and the issuer's pair
        goes after them. A fragment (never made here) takes Authlib's own way."""
        scheme, netloc, path, params, query, fragment = urlparse(location)
        if fragment:
            redirect: str = add_params_to_uri(location, [("iss", self.issuer)])
            return redirect
        pair = _issuer_pair(self.issuer)
        return urlunparse((scheme, netloc, path, params, f"{query}&{pair}" if query else pair, ""))

    def handle_error_response(self, request: Any, error: Any) -> Any:
        if isinstance(error, CodeReusedError):
            _revoke_after_code_reuse(error)
        elif isinstance(error, RefreshTokenReusedError):
            _revoke_after_refresh_token_reuse(error)
        return super().handle_error_response(request, error)


# The attributes Authlib's request starts with (``OAuth2Request.__init__``), taken from one.
_BLANK_REQUEST = {key: value for key, value in
                  vars(OAuth2Request("GET", "https://localhost/")).items() if key != "uri"}


class _Request(FlaskOAuth2Request):  # type: ignore[misc]
    """Authlib's Flask request, with Authlib's transport check made on the scheme and host alone
    (all it reads of the URL, remembered per origin) and the URL made only when read: no
    grant or endpoint of ours reads it, and making it cost a third of the wrapping."""

    def __init__(self, request: Request) -> None:
        if not secure(request):
            raise InsecureTransportError()
        self.__dict__.update(_BLANK_REQUEST)
        self.method = request.method
        self.headers = request.headers
        self._request = request  # its payload is set by ``create_oauth2_request``

    @cached_property
    def uri(self) -> str:
        """``request.url``, as Authlib's request holds it."""
        url: str = self._request.url
        return url


@lru_cache(maxsize=4)
def _issuer_pair(issuer: str) -> str:
    """``iss=…`` as Authlib's ``url_encode`` writes it."""
    encoded: str = url_encode([("iss", issuer)])
    return encoded


class _Parameters(FlaskOAuth2Payload):  # type: ignore[misc]
    """The request's parameters (query and form) as Authlib reads them, looked up once: Authlib
    asks for them a dozen times per token request, each time anew."""

    @cached_property
    def data(self) -> Any:
        return sent_values(self._request)


def sent_values(sent: Request) -> MultiDict[str, str]:
    """``sent.values``: of a GET, its query alone (Werkzeug leaves a GET's form out of
    ``values``), without the combined view over it."""
    values: MultiDict[str, str] = sent.args if sent.method == "GET" else sent.values
    return values


def basic_credentials_readable(request: Any) -> bool:
    """False for HTTP Basic credentials that are not base64 of UTF-8 text, which Authlib
    cannot read (a 500); any other header, or none, is left to Authlib."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return True
    try:
        base64.b64decode(value.strip()).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8
        return False
    return True


def _presents_secret(request: Any) -> bool:
    """client_secret_basic or client_secret_post (RFC 6749 2.3.1)."""
    basic = request.headers.get("Authorization", "").lower().startswith("basic ")
    return basic or bool(request.form.get("client_secret"))


def _revoke_after_code_reuse(error: CodeReusedError) -> None:
    """Drop whatever this request did, then revoke and audit in a transaction of its own."""
    db = context.db()
    db.rollback()
    code = error.code
    revoked = revoke_tokens_of_code(db, code) + revoke_families_of_code(db, code.id)
    audit.record(db, AuditEventType.CODE_REUSED, actor="client", identity_id=code.identity_id,
                 client_id=code.client.client_id, revoked_tokens=revoked)
    db.commit()


def _revoke_after_refresh_token_reuse(error: RefreshTokenReusedError) -> None:
    """The same for a spent refresh token presented again: its whole family goes."""
    db = context.db()
    db.rollback()
    token = error.token
    refresh, access = revoke_family(db, token.family_id)
    presenter = error.presented_by.client_id if error.presented_by is not None else None
    audit.record(db, AuditEventType.REFRESH_TOKEN_REUSED, actor="client",
                 identity_id=token.identity_id, client_id=token.client.client_id,
                 family=token.family_id, presented_by=presenter,
                 revoked_refresh_tokens=refresh, revoked_access_tokens=access)
    db.commit()


def create_server(app: Flask) -> CampusAuthorizationServer:
    server = CampusAuthorizationServer()
    server.init_app(app)
    services = app.extensions[context.EXTENSION]
    settings = services.settings
    issuer = settings.server.issuer
    server.issuer = issuer
    server.client_keys = ClientKeys(dev_mode=settings.server.dev_mode, limits=settings.outbound,
                                    before_fetch=context.end_reads)
    server.register_client_auth_method("private_key_jwt", PrivateKeyJwt(
        issuer, [issuer, f"{issuer}/token", f"{issuer}/par"], server.client_keys))
    server.register_token_generator(
        "default",
        TokenGenerator(settings.server.issuer, settings.oidc,
                       lambda alg: services.keyring().key_for(alg), settings.server.secret_key),
    )
    server.register_grant(CodeGrant, [OpenIDCodeExtension(require_nonce=False), PkceExtension()])
    server.register_grant(RefreshGrant)
    server.register_grant(ServiceGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    return server
