"""Campus identities and the directory accounts linked to them.

Invariants kept by the schema: a ``sub`` and a ``campus_id`` are unique and never reused;
an account (organization, external_id) exists once and belongs to exactly one identity.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from idp.storage.base import Base, UtcDateTime, utcnow


class Identity(Base):
    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    campus_id: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    accounts: Mapped[list[LinkedAccount]] = relationship(
        back_populates="identity", order_by="LinkedAccount.id", lazy="selectin"
    )

    def get_user_id(self) -> str:
        """Authlib's user contract: the subject."""
        return self.sub


class LinkedAccount(Base):
    __tablename__ = "linked_accounts"
    __table_args__ = (UniqueConstraint("organization", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    organization: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(256))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    identity: Mapped[Identity] = relationship(back_populates="accounts")


def new_sub() -> str:
    """An opaque random subject: says nothing about the person or their university."""
    return secrets.token_urlsafe(24)


def new_campus_id() -> str:
    """Nine digits, the last a Luhn check digit so a mistyped card number is caught."""
    body = str(secrets.randbelow(90_000_000) + 10_000_000)
    return body + luhn_digit(body)


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def find_account(db: Session, organization: str, external_id: str) -> LinkedAccount | None:
    stmt = select(LinkedAccount).where(
        LinkedAccount.organization == organization, LinkedAccount.external_id == external_id
    )
    return db.scalars(stmt).one_or_none()


def find_identity_by_sub(db: Session, sub: str) -> Identity | None:
    return db.scalars(select(Identity).where(Identity.sub == sub)).one_or_none()


def get_identity(db: Session, identity_id: int) -> Identity | None:
    return db.get(Identity, identity_id)
