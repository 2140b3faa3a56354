"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592) on our
storage: who may register (an initial access token of one organization), what is stored, and
the client information response. The views in ``idp.web.registration`` only parse and render.

Secrets, initial access tokens and registration access tokens are shown once and stored as
SHA-256 digests. Every registration, update, deletion and token creation is audited in the
caller's transaction.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc7591 import InvalidClientMetadataError
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.errors import ConfigError
from idp.oidc.client_metadata import ClientMetadata
from idp.oidc.key_metadata import apply_key_metadata, key_information
from idp.settings import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import (
    PRIVATE_KEY_JWT,
    Client,
    find_client,
    hash_secret,
    new_client_id,
    new_client_secret,
)
from idp.storage.refresh_tokens import RefreshToken
from idp.storage.registration_tokens import (
    InitialAccessToken,
    claim_use,
    find_initial_access_token,
    new_initial_access_token,
)
from idp.storage.tokens import AccessToken, digest

REGISTRATION_TOKEN_PREFIX = "cid_rat_"
MAX_TOKEN_LIFETIME = timedelta(days=366)
_DURATION = re.compile(r"^([1-9][0-9]{0,5})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class RegistrationUnauthorized(Exception):
    """No valid bearer token for the registration or management request: 401 (RFC 6750 3.1).
    ``description`` is None when no token was presented at all."""

    def __init__(self, description: str | None) -> None:
        super().__init__(description or "no token")
        self.description = description


@dataclass(frozen=True)
class Registered:
    client: Client
    client_secret: str | None
    registration_access_token: str


@dataclass(frozen=True)
class IssuedInitialToken:
    value: str
    token: InitialAccessToken


# --- initial access tokens ---------------------------------------------------------------

def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w``; raises ``ValueError`` saying what is accepted."""
    found = _DURATION.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a duration such as 30m, 12h, 7d or 2w")
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def issue_initial_access_token(db: Session, settings: Settings, organization: str, *,
                               expires_in: timedelta, max_uses: int | None,
                               actor: str) -> IssuedInitialToken:
    """Raises ``ConfigError`` listing every problem; nothing is stored then."""
    problems: list[str] = []
    if organization not in settings.organizations:
        known = ", ".join(sorted(settings.organizations))
        problems.append(f"org: unknown organization {organization!r} (known: {known})")
    if not timedelta(minutes=1) <= expires_in <= MAX_TOKEN_LIFETIME:
        problems.append("expires_in: must be between 1 minute and 366 days")
    if max_uses is not None and max_uses < 1:
        problems.append("max_uses: must be at least 1")
    if problems:
        raise ConfigError(problems)
    value = new_initial_access_token()
    token = InitialAccessToken(token_hash=digest(value), organization=organization,
                               created_by=audit.printable(actor)[:200], created_at=utcnow(),
                               expires_at=utcnow() + expires_in, max_uses=max_uses, uses=0)
    db.add(token)
    db.flush()
    audit.record(db, AuditEventType.REGISTRATION_TOKEN_CREATED, actor=actor,
                 organization=organization, token_id=token.id,
                 expires_at=token.expires_at.isoformat(), max_uses=max_uses)
    return IssuedInitialToken(value, token)


def authenticate_initial_token(db: Session, value: str | None,
                               organizations: Collection[str]) -> InitialAccessToken:
    """A usable token of an organization that is still configured."""
    if not value:
        raise RegistrationUnauthorized(None)
    token = find_initial_access_token(db, value)
    if token is None:
        raise RegistrationUnauthorized("The initial access token is not valid.")
    refusal = token.refusal()
    if refusal is None and token.organization not in organizations:
        refusal = "The initial access token's organization is no longer configured."
    if refusal:
        raise RegistrationUnauthorized(refusal)
    return token


# --- registration and management -----------------------------------------------------------

def spend_initial_token(db: Session, token: InitialAccessToken, *, ip: str | None) -> None:
    """Count this attempt against the token, audited: every attempt that passed
    authentication spends one use, whether its metadata turns out valid or not, so that a
    single-use token cannot be tried again and again (each try may make the provider fetch a
    client's sector_identifier_uri). The caller commits it before any such fetch."""
    if not claim_use(db, token):
        raise RegistrationUnauthorized("The initial access token has been used up.")
    audit.record(db, AuditEventType.REGISTRATION_TOKEN_USED, actor=_token_actor(token), ip=ip,
                 organization=token.organization, token_id=token.id)


def registration_failed(db: Session, token: InitialAccessToken, error: OAuth2Error, *,
                        ip: str | None) -> None:
    """The audit event of an attempt refused on its metadata (its use is already spent)."""
    audit.record(db, AuditEventType.REGISTRATION_FAILED, actor=_token_actor(token), ip=ip,
                 organization=token.organization, token_id=token.id, error=error.error,
                 reason=audit.printable(error.description or "")[:500])


def register_client(db: Session, token: InitialAccessToken, metadata: ClientMetadata, *,
                    ip: str | None) -> Registered:
    """RFC 7591 3: the client belongs to the token's organization, whose use
    ``spend_initial_token`` has counted."""
    client = Client(client_id=new_client_id(), source="dcr", organization=token.organization,
                    created_at=utcnow(), trusted=False)
    secret = _apply(client, metadata)
    registration_token = REGISTRATION_TOKEN_PREFIX + secrets.token_urlsafe(32)
    client.registration_token_hash = digest(registration_token)
    db.add(client)
    audit.record(db, AuditEventType.CLIENT_CREATED, actor=_token_actor(token), ip=ip,
                 organization=token.organization, client_id=client.client_id, via="registration",
                 token_id=token.id, **summary(client))
    return Registered(client, secret, registration_token)


def _token_actor(token: InitialAccessToken) -> str:
    return f"initial_access_token:{token.id}"


def authenticate_registered_client(db: Session, client_id: str, value: str | None) -> Client:
    """The client of a registration access token (RFC 7592 3); a wrong token, an unknown or a
    deleted client all look the same from outside."""
    if not value:
        raise RegistrationUnauthorized(None)
    client = find_client(db, client_id)
    if (client is None or not client.registration_token_hash
            or not hmac.compare_digest(client.registration_token_hash, digest(value))):
        raise RegistrationUnauthorized("The registration access token is not valid for this client.")
    return client


def update_client(db: Session, client: Client, metadata: ClientMetadata, request: dict[str, Any],
                  *, ip: str | None) -> str | None:
    """RFC 7592 2.2: the request replaces the metadata; returns a new secret when a public
    client became confidential."""
    if request.get("client_id") != client.client_id:
        raise InvalidClientMetadataError("client_id: must be given and match the client's URI")
    given_secret = request.get("client_secret")
    if given_secret is not None and (not isinstance(given_secret, str)
                                     or not client.check_client_secret(given_secret)):
        raise InvalidClientMetadataError("client_secret: does not match the current secret")
    before = summary(client)
    secret = _apply(client, metadata)
    after = summary(client)
    audit.record(db, AuditEventType.CLIENT_UPDATED, actor=f"registration:{client.client_id}",
                 ip=ip, organization=client.organization, client_id=client.client_id,
                 changed=sorted(k for k in after if after[k] != before.get(k)),
                 secret_issued=secret is not None)
    return secret


def delete_client(db: Session, client: Client, *, ip: str | None, actor: str | None = None) -> None:
    """RFC 7592 2.3: the client can no longer authenticate or be found, and every token
    issued to it stops working. The row stays (codes and tokens refer to it; so does the
    audit trail). ``actor``: the staff member, when the admin UI deletes it."""
    revoked = revoke_client_tokens(db, client)
    client.deleted_at = utcnow()
    client.secret_hash = None
    client.previous_secret_hash = None
    client.registration_token_hash = None
    audit.record(db, AuditEventType.CLIENT_DELETED,
                 actor=actor or f"registration:{client.client_id}",
                 ip=ip, organization=client.organization, client_id=client.client_id,
                 **revoked.details())


class RevokedClientTokens(NamedTuple):
    """What ``revoke_client_tokens`` did: stored tokens revoked, and the moment up to which
    self-contained access tokens (not stored, not counted) are revoked."""

    access: int
    refresh: int
    before: datetime

    def details(self) -> dict[str, Any]:
        """For the audit event; ``revoked_access_tokens`` counts stored tokens only."""
        return {"revoked_access_tokens": self.access, "revoked_refresh_tokens": self.refresh,
                "tokens_revoked_before": self.before.isoformat()}


def revoke_client_tokens(db: Session, client: Client) -> RevokedClientTokens:
    """Revoke every live access and refresh token of ``client``. Self-contained access tokens
    (``idp.oidc.access_tokens``) have no row: the client's ``tokens_revoked_before`` makes every
    one issued until now inactive for good, even if the client is enabled again."""
    now = utcnow()
    client.tokens_revoked_before = now
    access = db.execute(update(AccessToken)
                        .where(AccessToken.client_pk == client.id, AccessToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    refresh = db.execute(update(RefreshToken)
                         .where(RefreshToken.client_pk == client.id,
                                RefreshToken.revoked_at.is_(None))
                         .values(revoked_at=now))
    return RevokedClientTokens(int(access.rowcount), int(refresh.rowcount),  # type: ignore[attr-defined]
                               now)


def client_information(client: Client, issuer: str, registration_access_token: str,
                       client_secret: str | None = None) -> dict[str, Any]:
    """The client information response (RFC 7591 3.2.1, RFC 7592 3)."""
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": _epoch(client.created_at),
    }
    if client_secret:
        body["client_secret"] = client_secret
    if client.secret_hash:
        body["client_secret_expires_at"] = 0  # never
    body.update(
        registration_access_token=registration_access_token,
        registration_client_uri=f"{issuer}/register/{client.client_id}",
        client_name=client.name,
        redirect_uris=list(client.redirect_uris),
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        grant_types=list(client.grant_types),
        response_types=["code"],
        scope=" ".join(client.scopes),
        id_token_signed_response_alg=client.id_token_signed_response_alg,
    )
    body.update(key_information(client))
    if client.post_logout_redirect_uris:
        body["post_logout_redirect_uris"] = list(client.post_logout_redirect_uris)
    if client.backchannel_logout_uri:
        body["backchannel_logout_uri"] = client.backchannel_logout_uri
        body["backchannel_logout_session_required"] = client.backchannel_logout_session_required
    if client.event_delivery_uri:
        body["event_delivery_uri"] = client.event_delivery_uri
    body.update(client.registered_metadata or {})
    if client.organization:
        body["campus_organization"] = client.organization
    return body


def apply_metadata(client: Client, metadata: ClientMetadata) -> str | None:
    """Copy validated metadata onto the client (the admin UI uses it too); returns a new
    secret when the client needs one and had none."""
    return _apply(client, metadata)


def _apply(client: Client, metadata: ClientMetadata) -> str | None:
    client.name = metadata.client_name
    client.redirect_uris = list(metadata.redirect_uris)
    client.scopes = list(metadata.scopes)
    client.grant_types = list(metadata.grant_types)
    client.public = metadata.public
    client.auth_method = metadata.token_endpoint_auth_method
    client.pkce_required = metadata.pkce_required
    client.id_token_signed_response_alg = metadata.id_token_signed_response_alg
    client.registered_metadata = dict(metadata.extra)
    client.post_logout_redirect_uris = list(metadata.post_logout_redirect_uris)
    client.backchannel_logout_uri = metadata.backchannel_logout_uri or None
    client.backchannel_logout_session_required = metadata.backchannel_logout_session_required
    client.event_delivery_uri = metadata.event_delivery_uri or None
    apply_key_metadata(client, metadata.keys, metadata.sector_identifier)
    if metadata.public or metadata.token_endpoint_auth_method == PRIVATE_KEY_JWT:
        client.secret_hash = None  # no secret: a public client, or one proving keys it holds
        return None
    if client.secret_hash:
        return None
    secret = new_client_secret()
    client.secret_hash = hash_secret(secret)
    return secret


def summary(client: Client) -> dict[str, Any]:
    """What the audit trail keeps of a client's settings (registration, admin UI, API): never
    a secret."""
    return {"name": client.name, "redirect_uris": list(client.redirect_uris),
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "grant_types": list(client.grant_types), "scopes": list(client.scopes),
            "pkce_required": client.pkce_required,
            "profile": (client.registered_metadata or {}).get("campus_profile"),
            "event_delivery_uri": client.event_delivery_uri}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
