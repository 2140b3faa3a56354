"""Spent client assertion ids (RFC 7523 3, item 7): one row per client and ``jti`` until the
assertion's expiry, so the same assertion is refused a second time by every worker.

The unique constraint decides a race: of two requests with one assertion, one insert fails.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage.base import Base, UtcDateTime, utcnow

MAX_JTI_LENGTH = 255


class ClientAssertionJti(Base):
    __tablename__ = "client_assertion_jtis"
    __table_args__ = (UniqueConstraint("client_pk", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    jti: Mapped[str] = mapped_column(String(MAX_JTI_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


def spend_jti(db: Session, client_pk: int, jti: str, expires_at: datetime) -> bool:
    """Record ``jti`` as used; False when it already was (and has not expired since).
    Expired rows are pruned first, so a store never outgrows the assertions' lifetimes."""
    db.execute(delete(ClientAssertionJti).where(ClientAssertionJti.expires_at < utcnow()))
    try:
        with db.begin_nested():
            db.add(ClientAssertionJti(client_pk=client_pk, jti=jti, expires_at=expires_at))
    except IntegrityError:
        return False
    return True
