"""Pushed authorization requests (RFC 9126): the parameters a client pushed, kept under the
digest of their ``request_uri`` for a short while, for that client only and for one use."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.tokens import digest

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


class PushedRequest(Base):
    __tablename__ = "pushed_authorization_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


def push(db: Session, client_pk: int, params: dict[str, str], lifetime_s: int) -> str:
    """Store ``params``; returns the new request_uri. Expired requests are pruned."""
    now = utcnow()
    db.execute(delete(PushedRequest).where(PushedRequest.expires_at < now))
    request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
    db.add(PushedRequest(reference_hash=digest(request_uri), client_pk=client_pk,
                         params=dict(params), created_at=now,
                         expires_at=now + timedelta(seconds=lifetime_s)))
    return request_uri


def find_pushed(db: Session, request_uri: str) -> PushedRequest | None:
    if not request_uri.startswith(REQUEST_URI_PREFIX) or len(request_uri) > 200:
        return None
    stmt = select(PushedRequest).where(PushedRequest.reference_hash == digest(request_uri))
    return db.scalars(stmt).one_or_none()


def claim(db: Session, pushed: PushedRequest) -> bool:
    """Spend it by a conditional UPDATE: of two racing uses, one wins."""
    result = db.execute(update(PushedRequest)
                        .where(PushedRequest.id == pushed.id, PushedRequest.used_at.is_(None))
                        .values(used_at=utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]
