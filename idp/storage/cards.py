"""Campus cards: the card numbers issued to each campus identity. A number is never reused:
a revoked card stays, with when and why it was revoked; a person has at most one active card
(a partial unique index says so). Repositories never commit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage.base import Base, UtcDateTime, utcnow


class CardState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class CampusCard(Base):
    __tablename__ = "campus_cards"
    __table_args__ = (
        Index("uq_campus_cards_active", "identity_id", unique=True,
              postgresql_where=text("state = 'active'"), sqlite_where=text("state = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=CardState.ACTIVE.value)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


def active_card(db: Session, identity_id: int) -> CampusCard | None:
    return db.scalars(select(CampusCard).where(
        CampusCard.identity_id == identity_id,
        CampusCard.state == CardState.ACTIVE.value)).one_or_none()


def current_card(db: Session, identity_id: int) -> CampusCard | None:
    """The active card, also one still pending in this session, read without flushing (a
    bulk recompute writes a whole batch at once)."""
    for pending in db.new:
        if (isinstance(pending, CampusCard) and pending.identity_id == identity_id
                and pending.state == CardState.ACTIVE.value):
            return pending
    with db.no_autoflush:
        return active_card(db, identity_id)


def number_pending_or_taken(db: Session, number: str) -> bool:
    if any(isinstance(c, CampusCard) and c.number == number for c in db.new):
        return True
    with db.no_autoflush:
        return number_taken(db, number)


def cards_of(db: Session, identity_id: int) -> list[CampusCard]:
    """Every card the identity was ever issued, newest first."""
    return list(db.scalars(select(CampusCard).where(CampusCard.identity_id == identity_id)
                           .order_by(CampusCard.issued_at.desc(), CampusCard.id.desc())))


def number_taken(db: Session, number: str) -> bool:
    return db.scalar(select(CampusCard.id).where(CampusCard.number == number)) is not None
