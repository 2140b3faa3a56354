"""Single sign-on sessions kept on the server, so that they can be listed and ended.

The browser holds only the random session id in a signed cookie.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import ForeignKey, Integer, Select, String, Table, bindparam, insert, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from idp.storage import on_driver
from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.identities import Identity, LinkedAccount


class LoginSession(Base):
    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The session's id as relying parties see it (the ``sid`` claim of ID and logout tokens,
    # OpenID Connect Back-Channel Logout 1.0); never the cookie value. None on sessions
    # started before migration 0005: filled on first use.
    sid: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
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


def start_session(db: Session, identity_id: int, account_id: int, auth_time: int,
                  expires_at: datetime) -> tuple[str, SessionRow]:
    """A new login session, by one prepared INSERT on the session's connection (past
    SQLAlchemy's execution, ``idp.storage.on_driver``); returns the id for the browser's
    cookie and the session as a code issued at once reads it (the INSERT returns its id and
    the person's ``sub``: nothing reads the row back)."""
    session_id = new_session_id()
    sid = new_session_id()  # relying parties' name for it, set now: no UPDATE at first use
    ((row_id, sub),) = on_driver.rows(db.connection(), _insert_session(), {
        "session_id": session_id, "sid": sid,
        "identity_id": identity_id, "account_id": account_id, "auth_time": auth_time,
        "created_at": utcnow(), "expires_at": expires_at, "ended_at": None,
        "person_id": identity_id,
    })
    return session_id, SessionRow(row_id, sid, auth_time, SessionPerson(identity_id, sub))


@cache
def _insert_session() -> Any:
    """Built once (every login runs it)."""
    login = cast(Table, LoginSession.__table__)
    identity = cast(Table, Identity.__table__)
    sub = (select(identity.c.sub).where(identity.c.id == bindparam("person_id"))
           .scalar_subquery().label("sub"))
    return insert(login).returning(login.c.id, sub)


def public_sid(login: LoginSession) -> str:
    """The session's ``sid``, created on first use for sessions older than the column."""
    if login.sid is None:
        login.sid = new_session_id()
    return login.sid


def find_session_by_sid(db: Session, sid: str) -> LoginSession | None:
    if not sid or len(sid) > 64:
        return None
    return db.scalars(select(LoginSession).where(LoginSession.sid == sid)).one_or_none()


def find_session(db: Session, session_id: str) -> LoginSession | None:
    """The live session with its person and account; the person's other accounts only when
    asked for (an authorization for a trusted client, the commonest request, never does)."""
    found = db.scalars(_find_session(), {"session_id": session_id}).one_or_none()
    return found if found is not None and found.is_active() else None


@cache
def _find_session() -> Select[LoginSession]:
    """Built once (most requests run it): building it cost more than running it."""
    return (select(LoginSession).where(LoginSession.session_id == bindparam("session_id"))
            .options(joinedload(LoginSession.identity).lazyload(Identity.accounts)))


@dataclass(frozen=True)
class SessionPerson:
    """What issuing a code reads of a session's ``Identity`` (its id; ``sub`` for Authlib's
    ``get_user_id``)."""

    id: int
    sub: str


@dataclass(frozen=True)
class SessionRow:
    """A live login session as issuing a code reads it (``LoginSession`` with its identity),
    from one row: no ORM object is built for the commonest authorization, a trusted client's."""

    id: int
    sid: str | None  # None on a session older than the column: ``public_sid`` names it
    auth_time: int
    identity: SessionPerson


def find_session_row(db: Session, session_id: str) -> SessionRow | None:
    """``find_session`` as one row, on the session's connection."""
    row: Any = db.connection().execute(_find_session_row(), {"session_id": session_id}).first()
    if row is None or row.ended_at is not None or utcnow() >= row.expires_at:
        return None
    return SessionRow(row.id, row.sid, row.auth_time, SessionPerson(row.identity_id, row.sub))


@cache
def _find_session_row() -> Select[Any]:
    """Built once, like ``_find_session``."""
    login = cast(Table, LoginSession.__table__)
    identity = cast(Table, Identity.__table__)
    return (select(login.c.id, login.c.sid, login.c.auth_time, login.c.expires_at,
                   login.c.ended_at, login.c.identity_id, identity.c.sub)
            .join(identity, identity.c.id == login.c.identity_id)
            .where(login.c.session_id == bindparam("session_id")))


def active_sessions(db: Session, identity_id: int) -> list[LoginSession]:
    """Every session of the identity that has not ended or expired, on any device."""
    stmt = select(LoginSession).where(LoginSession.identity_id == identity_id,
                                      LoginSession.ended_at.is_(None),
                                      LoginSession.expires_at > utcnow())
    return list(db.scalars(stmt.order_by(LoginSession.id)).unique())
