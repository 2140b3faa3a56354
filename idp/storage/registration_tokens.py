"""Initial access tokens (RFC 7591 section 3): what an organization's admin hands to whoever
registers one of its relying parties. Stored only as SHA-256 digests; each is scoped to one
organization, expires, and may be limited to a number of registrations.

A use is claimed with one conditional UPDATE, so two registrations racing for the last use of
a token cannot both succeed.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Integer, String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.tokens import digest

PREFIX = "cid_iat_"  # recognisable in a leaked log or repository, by people and secret scanners


class InitialAccessToken(Base):
    __tablename__ = "initial_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization: Mapped[str] = mapped_column(String(32), index=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: until expiry
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    def refusal(self) -> str | None:
        """Why this token cannot register a client now, or None when it can."""
        if self.revoked_at is not None:
            return "The initial access token has been revoked."
        if utcnow() >= self.expires_at:
            return "The initial access token has expired."
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "The initial access token has been used up."
        return None


def new_initial_access_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def find_initial_access_token(db: Session, value: str) -> InitialAccessToken | None:
    if not value or len(value) > 512:
        return None
    stmt = select(InitialAccessToken).where(InitialAccessToken.token_hash == digest(value))
    return db.scalars(stmt).one_or_none()


def claim_use(db: Session, token: InitialAccessToken) -> bool:
    """Count one registration against the token; False when it was used up or expired since
    it was read."""
    result = db.execute(
        update(InitialAccessToken)
        .where(
            InitialAccessToken.id == token.id,
            InitialAccessToken.revoked_at.is_(None),
            InitialAccessToken.expires_at > utcnow(),
            or_(InitialAccessToken.max_uses.is_(None),
                InitialAccessToken.uses < InitialAccessToken.max_uses),
        )
        .values(uses=InitialAccessToken.uses + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
