"""Relying parties (OAuth clients), implementing Authlib's ``ClientMixin`` contract.

Secrets are random and long, so a SHA-256 digest is a safe way to keep them: only the digest
is stored, and the secret is shown once when the client is created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage.base import Base, UtcDateTime, utcnow

CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
PRIVATE_KEY_JWT = "private_key_jwt"
PUBLIC_SUBJECT = "public"
PAIRWISE_SUBJECT = "pairwise"
# Scopes about a person: they mean nothing to a client acting on its own behalf.
USER_SCOPES = frozenset({"openid", "profile", "email", "campus", "offline_access"})


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    pkce_required: Mapped[bool] = mapped_column(Boolean, default=True)
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    source: Mapped[str] = mapped_column(String(16), default="cli")
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["authorization_code"])
    access_token_format: Mapped[str] = mapped_column(String(8), default="opaque")
    access_token_audience: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_token_policy: Mapped[str] = mapped_column(String(16), default="offline_access")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # Dynamic registration (RFC 7591/7592). Empty organization: a consortium client.
    organization: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # The registered token_endpoint_auth_method; None: any method of its kind (static clients).
    auth_method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Registered metadata kept as given: localised names, logo/policy/terms URIs, contacts...
    registered_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    registration_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # What the client may do on the helpdesk API: ``helpdesk`` or ``helpdesk:ORG``.
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Logout (OpenID Connect RP-Initiated Logout 1.0 and Back-Channel Logout 1.0).
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where Security Event Tokens about its people (identity merged, account unlinked) are
    # pushed (RFC 8935); None: it is told nothing.
    event_delivery_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Admin UI: a disabled client logs nobody in and gets no tokens; after a secret rotation
    # the previous secret's digest keeps working until its expiry (the overlap window).
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    previous_secret_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # When every token of the client was last revoked at once (disabled, deleted): a
    # self-contained access token (not stored, ``idp.oidc.access_tokens``) issued at or before
    # this second is inactive, even after the client is enabled again.
    tokens_revoked_before: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # private_key_jwt and signed request objects: the client's public keys, by value or by URI.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    jwks_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_object_signing_alg: Mapped[str | None] = mapped_column(String(16), nullable=True)
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(Boolean, default=False)
    # OpenID Connect Core 8: ``public`` or ``pairwise``; a pairwise client's sector is the host
    # its subjects are computed for (of its redirect URIs or its sector_identifier_uri).
    subject_type: Mapped[str] = mapped_column(String(16), default=PUBLIC_SUBJECT)
    sector_identifier: Mapped[str | None] = mapped_column(String(255), nullable=True)

    # --- Authlib ClientMixin -------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous single URI may stand in for a missing redirect_uri.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in the order asked; offline_access
        comes with the refresh_token grant type (OpenID Connect Core 11)."""
        allowed = set(self.scopes)
        if self.check_grant_type("refresh_token"):
            allowed.add("offline_access")
        return " ".join(dict.fromkeys(s for s in (scope or "").split() if s in allowed))

    def service_scopes(self) -> list[str]:
        """What the client credentials grant may give this client (RFC 6749 4.4)."""
        return [s for s in self.scopes if s not in USER_SCOPES]

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match, as OpenID Connect Core 3.1.2.1 requires."""
        return redirect_uri in self.redirect_uris

    def check_post_logout_redirect_uri(self, uri: str) -> bool:
        """Exact string match (RP-Initiated Logout 1.0, section 3)."""
        return uri in (self.post_logout_redirect_uris or [])

    def check_client_secret(self, client_secret: str) -> bool:
        """The current secret, or the previous one until its overlap window ends."""
        if not self.secret_hash or not client_secret:
            return False
        given = hash_secret(client_secret)
        if hmac.compare_digest(self.secret_hash, given):
            return True
        return (self.previous_secret_hash is not None
                and self.previous_secret_expires_at is not None
                and utcnow() < self.previous_secret_expires_at
                and hmac.compare_digest(self.previous_secret_hash, given))

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        if self.auth_method:  # registered: that one method only (RFC 7591 2)
            return method == self.auth_method
        return method in CONFIDENTIAL_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    @property
    def token_endpoint_auth_method(self) -> str:
        return "none" if self.public else self.auth_method or "client_secret_basic"

    def display_name(self, language: str) -> str:
        """The registered ``client_name#<language>`` when there is one (RFC 7591 2.2)."""
        localised = (self.registered_metadata or {}).get(f"client_name#{language}")
        return localised if isinstance(localised, str) and localised else self.name


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def new_client_id() -> str:
    """Random, and never starting with "-": an operator types it as a command argument, where
    a leading dash reads as an option."""
    while True:
        client_id = secrets.token_urlsafe(16)
        if not client_id.startswith("-"):
            return client_id


def find_client(db: Session, client_id: str) -> Client | None:
    if not client_id or len(client_id) > 64:
        return None
    stmt = select(Client).where(Client.client_id == client_id, Client.deleted_at.is_(None))
    return db.scalars(stmt).one_or_none()
