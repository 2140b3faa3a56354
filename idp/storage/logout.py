"""Back-channel bookkeeping: which relying parties took part in a single sign-on session, and
the queue of signed tokens waiting to reach relying parties over the back channel.

A ``LoginSessionClient`` row is written when a client gets an authorization code in a login
session; ending the session then reaches every such client (OpenID Connect Back-Channel
Logout 1.0, section 2.7). A ``LogoutDelivery`` row (one queue for every ``DeliveryKind``:
logout tokens, and Security Event Tokens about identities) is queued in the transaction that
makes the change it reports, so a receiver that is down loses nothing: ``idp logout deliver``
retries it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import cast

from sqlalchemy import CTE, ForeignKey, Integer, String, Table, Text, UniqueConstraint, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.sql import Executable

from idp import request_id as request_ids
from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.clients import Client


class LoginSessionClient(Base):
    __tablename__ = "login_session_clients"
    __table_args__ = (UniqueConstraint("login_session_id", "client_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login_session_id: Mapped[int] = mapped_column(ForeignKey("login_sessions.id"), index=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    client: Mapped[Client] = relationship(lazy="joined")


class DeliveryKind(StrEnum):
    """What a queued token is, which decides where and how it is posted."""

    LOGOUT = "logout"  # a logout token, form-posted to backchannel_logout_uri
    SECURITY_EVENT = "set"  # a Security Event Token (RFC 8417), pushed to event_delivery_uri


class LogoutDelivery(Base):
    """One token for one client (a back-channel delivery of any ``DeliveryKind``; the table
    kept the name it got when logout tokens were all it held). ``next_attempt_at`` is None
    once delivered or given up (then ``delivered_at`` tells which)."""

    __tablename__ = "logout_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    login_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_sessions.id"), index=True, nullable=True
    )
    kind: Mapped[str] = mapped_column(String(16), default=DeliveryKind.LOGOUT.value)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    token: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True,
                                                             index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The request, job or command that queued it (idp.request_id, current when written): each
    # attempt runs under that id, so its audit events carry it too.
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True,
                                                   default=request_ids.current)
    client: Mapped[Client] = relationship(lazy="joined")


def remember_client_cte() -> CTE:
    """``remember_client``'s INSERT as a WITH clause of another PostgreSQL statement, over the
    bind parameters ``login_session_id``, ``client_pk`` and ``created_at``."""
    table = cast(Table, LoginSessionClient.__table__)
    return (postgresql.insert(table)
            .values(login_session_id=bindparam("login_session_id"),
                    client_pk=bindparam("client_pk"), created_at=bindparam("created_at"))
            .on_conflict_do_nothing(index_elements=["login_session_id", "client_pk"])
            .cte("remembered_client"))


def remember_client(db: Session, login_session_id: int, client: Client | int) -> None:
    """Note that ``client`` took part in the session (once per pair): one INSERT that does
    nothing when the pair is there already, where a SELECT first cost a statement more and
    let two concurrent authorizations of one session and client collide. On the session's
    connection, in its transaction: the ORM's bulk insert path (a flush first, a RETURNING
    nobody reads) cost more than the statement."""
    connection = db.connection()
    connection.execute(_remember_client(connection.dialect.name),
                       {"login_session_id": login_session_id,
                        "client_pk": client if isinstance(client, int) else client.id,
                        "created_at": utcnow()})


@cache
def _remember_client(dialect: str) -> Executable:
    """Built once per dialect (PostgreSQL and SQLite, the two supported, spell it alike)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(cast(Table, LoginSessionClient.__table__))
            .on_conflict_do_nothing(index_elements=["login_session_id", "client_pk"]))


def clients_of_session(db: Session, login_session_id: int) -> list[Client]:
    stmt = select(LoginSessionClient).where(LoginSessionClient.login_session_id == login_session_id)
    return [row.client for row in db.scalars(stmt).all() if row.client.deleted_at is None]


def due_deliveries(db: Session, ids: list[int] | None = None, limit: int = 100) -> list[LogoutDelivery]:
    stmt = select(LogoutDelivery).where(LogoutDelivery.next_attempt_at.is_not(None),
                                        LogoutDelivery.next_attempt_at <= utcnow())
    if ids is not None:
        stmt = stmt.where(LogoutDelivery.id.in_(ids))
    return list(db.scalars(stmt.order_by(LogoutDelivery.next_attempt_at).limit(limit)).all())
