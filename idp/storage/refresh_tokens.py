"""Refresh tokens, kept as SHA-256 digests and grouped in families.

A family starts at one code exchange. Every refresh rotates the presented token (marks it
``rotated_at``) and issues a child in the same family, with the family's absolute expiry and a
fresh idle expiry. A rotated token presented again means two parties hold the family: the
whole family and every access token issued from it are revoked (OAuth 2.0 Security BCP,
RFC 9700 section 4.14.2).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import cache

from sqlalchemy import (
    ForeignKey,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, joinedload, lazyload, mapped_column, relationship

from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.clients import Client
from idp.storage.identities import Identity
from idp.storage.tokens import AccessToken, digest


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("refresh_tokens.id"), index=True, nullable=True
    )
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    code_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorization_codes.id"), index=True, nullable=True
    )
    scope: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[int | None] = mapped_column(Integer, nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    idle_expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    client: Mapped[Client] = relationship(lazy="joined")
    identity: Mapped[Identity] = relationship(lazy="joined")

    # --- Authlib TokenMixin (refresh grant, introspection, revocation) --------------------
    def check_client(self, client: Client) -> bool:
        return self.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expiry() - utcnow()).total_seconds()))

    def expiry(self) -> datetime:
        return min(self.expires_at, self.idle_expires_at)

    def is_expired(self) -> bool:
        return utcnow() >= self.expiry()

    def is_revoked(self) -> bool:
        """A rotated token is spent: only its child refreshes."""
        return self.revoked_at is not None or self.rotated_at is not None


def new_family_id() -> str:
    return secrets.token_urlsafe(24)


def find_refresh_token(db: Session, token: str) -> RefreshToken | None:
    if not token or len(token) > 512:
        return None
    return db.scalars(_find_refresh_token(), {"token_hash": digest(token)}).one_or_none()


@cache
def _find_refresh_token() -> Select[RefreshToken]:
    """Built once (every refresh runs it). With its person in the same statement; not the
    client (the endpoints have its snapshot, an audit event lazy-loads it) nor the person's
    accounts (no ID token on refresh)."""
    return (select(RefreshToken).where(RefreshToken.token_hash == bindparam("token_hash"))
            .options(lazyload(RefreshToken.client),
                     joinedload(RefreshToken.identity).lazyload(Identity.accounts)))


def revoke_family(db: Session, family_id: str) -> tuple[int, int]:
    """Revoke every refresh and access token of the family; returns how many of each."""
    now = utcnow()
    refresh = db.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    access = db.execute(
        update(AccessToken)
        .where(AccessToken.family_id == family_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(refresh.rowcount), int(access.rowcount)  # type: ignore[attr-defined]


def revoke_families_of_code(db: Session, code_id: int) -> int:
    """A reused code also ends the refresh token families its first use started."""
    families = db.scalars(
        select(RefreshToken.family_id).where(RefreshToken.code_id == code_id).distinct()
    ).all()
    return sum(sum(revoke_family(db, family)) for family in families)

