"""The authorization code grant with its OpenID Connect and PKCE extensions, on our models.

Layout follows Authlib: the grant stores and consumes codes; extensions add the ID token
(OpenID Connect Core 3.1) and the code challenge (RFC 7636).
"""

from __future__ import annotations

import secrets
import string
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import g
from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from idp import context
from idp.identity.release import released_claims
from idp.settings.clients import is_uri_text
from idp.storage import on_driver
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.code_rows import ClaimedCode, CodePerson, SessionSid, claim_code
from idp.storage.identities import Identity
from idp.storage.sessions import LoginSession, SessionPerson, SessionRow, public_sid
from idp.storage.tokens import AuthorizationCode, digest, find_code, mark_code_used, store_code

# Discovery's response_modes_supported: the code goes back in the query, nowhere else.
RESPONSE_MODES = ("query",)
# The client an ID token is being signed for: Authlib asks for the user's claims without it.
_ID_TOKEN_AUDIENCE: ContextVar[Client] = ContextVar("id_token_audience")


@dataclass(frozen=True)
class AuthenticatedUser:
    """Who approved an authorization request, and when they last proved their password. For
    a trusted client's usual authorization, the login session and its person read as one row
    (``SessionRow``, ``SessionPerson``): all issuing a code reads of them; consent needs the
    ORM ``Identity`` (``full_identity``)."""

    identity: Identity | SessionPerson
    auth_time: int
    login_session: LoginSession | SessionRow | None = None

    def full_identity(self) -> Identity:
        """The ``Identity``, where more than its id and ``sub`` is read (consent, claims)."""
        if not isinstance(self.identity, Identity):
            raise TypeError("the person of a session read as a row has only its id and sub")
        return self.identity

    def get_user_id(self) -> str:
        return self.identity.sub


class CodeReusedError(InvalidGrantError):  # type: ignore[misc]
    """A code presented a second time: the tokens from its first use get revoked."""

    def __init__(self, code: AuthorizationCode) -> None:
        super().__init__("The authorization code has already been used.")
        self.code = code


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt",
                                   "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Client) -> str:
        """Authlib's check with descriptions of our own: Authlib's repeats the URI sent, and
        one with a quote, backslash or control character in it is no valid error description
        (RFC 6749 4.1.2.1), which failed as a 500. Neither error names a redirect URI, so
        the person sees it on our page and is never redirected (RFC 6749 4.1.2.1)."""
        sent = request.payload.redirect_uri
        if sent and not is_uri_text(sent):
            raise InvalidRequestError("The redirect_uri is not a URI (RFC 3986): it has spaces, "
                                      "quotes, backslashes or control characters.")
        if sent and not client.check_redirect_uri(sent):
            raise InvalidRequestError("The redirect_uri is not registered for this client.")
        redirect_uri: str = AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)
        return redirect_uri

    def validate_authorization_request(self) -> str:
        """Authlib's validation, and a response_mode other than ``query`` refused rather than
        ignored (OAuth 2.0 Multiple Response Type Encoding Practices 2.1): the error goes back
        to the validated redirect URI in the query, the only mode this provider has.

        Authlib validates a grant's request twice when the code is issued in the request that
        checked it (``get_consent_grant``, then ``create_authorization_response``): nothing
        the checks read changes between the two (the same parameters, client and person), so
        a request that passed once passes again with the same redirect URI; a failure is never
        remembered."""
        validated: str | None = getattr(self, "_validated_redirect_uri", None)
        if validated is not None:
            return validated
        redirect_uri: str = super().validate_authorization_request()
        mode = self.request.payload.data.get("response_mode")
        if mode is not None and mode not in RESPONSE_MODES:
            raise InvalidRequestError("This response_mode is not supported: the response comes in "
                                      "the query (response_mode=query).",
                                      redirect_uri=redirect_uri, state=self.request.payload.state)
        self._validated_redirect_uri = redirect_uri
        return redirect_uri

    def generate_authorization_code(self) -> str:
        """Authlib's code (48 letters and digits, each drawn uniformly from the system's
        randomness), made from random bytes in one pass rather than a choice per letter."""
        return random_letters(self.AUTHORIZATION_CODE_LENGTH)

    def save_authorization_code(self, code: str, request: Any) -> None:
        user: AuthenticatedUser = request.user
        data = request.payload.data
        lifetime = context.settings().oidc.code_lifetime_s
        db = context.db()
        login = user.login_session
        if isinstance(login, LoginSession):  # logout must reach this client (Back-Channel
            public_sid(login)  # Logout 2.7); a session read as a row has its sid
        now = utcnow()
        store_code(db, dict(
            code_hash=digest(code),
            client_pk=request.client.id,
            identity_id=user.identity.id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope,
            nonce=data.get("nonce"),
            auth_time=user.auth_time,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
            used_at=None,
            login_session_id=login.id if login is not None else None,
        ))

    def query_authorization_code(self, code: str,
                                 client: Client) -> ClaimedCode | AuthorizationCode | None:
        """On PostgreSQL the code is claimed (marked used) by the statement that finds it
        (``code_rows.claim_code``); when that matches nothing, or on SQLite, the code is read
        to say why, and a usable one is claimed as Authlib's path ends
        (``delete_authorization_code``)."""
        db = context.db()
        claimed = claim_code(db, code, client.id)
        if claimed is not None:
            return claimed
        found = find_code(db, code)
        if found is None or found.client_pk != client.id:
            return None
        if found.used_at is not None:
            raise CodeReusedError(found)
        if found.is_expired():
            raise InvalidGrantError("The authorization code has expired.")
        return found

    def delete_authorization_code(self, authorization_code: ClaimedCode | AuthorizationCode) -> None:
        # Marked used, not deleted: a second use must be recognised (RFC 6749 4.1.2).
        if isinstance(authorization_code, ClaimedCode):
            return  # marked used by the statement that found it
        if not mark_code_used(context.db(), authorization_code):
            raise CodeReusedError(authorization_code)

    def authenticate_user(self, authorization_code: ClaimedCode | AuthorizationCode) -> Identity | CodePerson:
        return authorization_code.identity


class OpenIDCodeExtension(OpenIDCode):  # type: ignore[misc]
    """Signs ID tokens with the algorithm the client registered, using the current key.

    What the ID token reads beyond the request (the settings, keys and release policies, the
    database) comes from ``services`` and ``database``: the request's by default, given
    otherwise by a narrow path that runs with no Flask context (``idp.oidc.code_requests``)."""

    def services(self) -> context.Services:
        return context.services()

    def database(self) -> Session | Connection:
        """Where the person's grants are read (``released_claims``)."""
        return context.db()

    def orm_session(self) -> Session:
        """For what only the ORM reads: a login session older than its ``sid`` column (named
        by ``public_sid``), a client's release policy not remembered."""
        return context.db()

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Authlib validates an authorization request up to twice per HTTP request (consent
        check, then issuing the code): one query answers both. Without a signed-in person the
        request can only lead to the login page, never to a code: the nonce is checked when
        the request comes back with one, in the request that would issue the code (a replayed
        nonce is refused then), so the first visit asks the database nothing."""
        if request.user is None:
            return False
        key = (request.client.id, nonce)
        memo: dict[tuple[int, str], bool] = g.setdefault("nonces_seen", {})
        if key not in memo:
            params = {"client_pk": request.client.id, "nonce": nonce}
            # On the session's connection past SQLAlchemy's execution: one plain column.
            memo[key] = bool(on_driver.rows(context.db().connection(), _nonce_used(), params))
        return memo[key]

    def get_client_algorithm(self, client: Client) -> str:
        return client.id_token_signed_response_alg

    def get_authorization_code_claims(self, authorization_code: ClaimedCode | AuthorizationCode,
                                      ) -> dict[str, Any]:
        """Authlib's claims plus ``sid``, the login session's id for relying parties
        (Back-Channel Logout 1.0, section 2.1)."""
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        login = authorization_code.login_session  # loaded with the code
        if isinstance(login, SessionSid):
            claims["sid"] = login.sid or public_sid(self.orm_session().get_one(LoginSession, login.id))
        elif login is not None:
            claims["sid"] = public_sid(login)
        return claims

    def resolve_client_private_key(self, client: Client) -> Any:
        return self.services().keyring().key_for(self.get_client_algorithm(client))

    def get_encode_header(self, client: Client) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"alg": self.get_client_algorithm(client), "kid": str(key.kid), "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        settings = self.services().settings
        now = int(time.time())
        return {
            "iss": settings.server.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + settings.oidc.id_token_lifetime_s,
        }

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        reset = _ID_TOKEN_AUDIENCE.set(request.client)
        try:
            encoded: str = super().encode_id_token(token, request)
        finally:
            _ID_TOKEN_AUDIENCE.reset(reset)
        return encoded

    def generate_user_info(self, user: Identity | CodePerson | AuthenticatedUser,
                           scope: str) -> dict[str, Any]:
        """The claims released to the client the ID token is for (``idp.identity.release``);
        a person's grants read in the request's session (a row was loaded in none)."""
        identity = user.full_identity() if isinstance(user, AuthenticatedUser) else user
        client = _ID_TOKEN_AUDIENCE.get()
        services = self.services()
        return released_claims(services.settings, client, identity, scope.split(),
                               services.release_policies.get(self.orm_session, client.id),
                               db=self.database())


_LETTERS = string.ascii_letters + string.digits
# Byte b becomes letter b % 62; the 8 bytes above 247 are dropped, so each letter has 4 bytes.
_BYTE_TO_LETTER = bytes(ord(_LETTERS[b % len(_LETTERS)]) for b in range(256))
_UNEVEN_BYTES = bytes(range(256 // len(_LETTERS) * len(_LETTERS), 256))


def random_letters(length: int) -> str:
    """``length`` letters and digits, each uniform and independent (``secrets``)."""
    drawn = b""
    while len(drawn) < length:
        drawn += secrets.token_bytes(length + 16).translate(_BYTE_TO_LETTER, _UNEVEN_BYTES)
    return drawn[:length].decode("ascii")


@cache
def _nonce_used() -> Select[int]:
    """Built once: every authorization with a person runs it."""
    return (select(AuthorizationCode.id)
            .where(AuthorizationCode.client_pk == bindparam("client_pk"),
                   AuthorizationCode.nonce == bindparam("nonce"))
            .limit(1))


class PkceExtension(CodeChallenge):  # type: ignore[misc]
    """S256 only; required for public clients and for confidential clients that opt in."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        client: Client = grant.request.client
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if (client.public or client.pkce_required) and not challenge:
            raise InvalidRequestError("This client must send a PKCE code_challenge (S256).")
        if challenge and method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: ClaimedCode | AuthorizationCode,
                                         ) -> str | None:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(
            self, authorization_code: ClaimedCode | AuthorizationCode) -> str | None:
        return authorization_code.code_challenge_method
