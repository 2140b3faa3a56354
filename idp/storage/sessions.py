"""Single sign-on sessions kept on the server, so that they can be listed and ended.

The browser holds only the random session id in a signed cookie.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.identities import Identity, LinkedAccount


class LoginSession(Base):
    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id"))
    auth_time: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    identity: Mapped[Identity] = relationship(lazy="joined")
    account: Mapped[LinkedAccount] = relationship(lazy="joined")

    def is_active(self) -> bool:
        return self.ended_at is None and utcnow() < self.expires_at


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def find_session(db: Session, session_id: str) -> LoginSession | None:
    stmt = select(LoginSession).where(LoginSession.session_id == session_id)
    found = db.scalars(stmt).one_or_none()
    return found if found is not None and found.is_active() else None
