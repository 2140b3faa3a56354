"""Signing keys as stored: the private JWK encrypted at rest (see ``idp.oidc.keys``), and when
each key starts signing (``activates_at``) and stops being published (``retired_at``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage.base import Base, UtcDateTime, utcnow


class SigningKey(Base):
    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    encrypted_private_jwk: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # Published from creation, signing from activates_at; activated_at records when the
    # activation was noticed and audited (null until then).
    activates_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


def active_keys(db: Session) -> list[SigningKey]:
    """The keys not retired (published; pending, signing or kept for validation)."""
    stmt = (select(SigningKey).where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.activates_at, SigningKey.id))
    return list(db.scalars(stmt))


def all_keys(db: Session) -> list[SigningKey]:
    return list(db.scalars(select(SigningKey).order_by(SigningKey.alg, SigningKey.activates_at,
                                                       SigningKey.id)))


def key_generation(conn: Connection) -> tuple[int, int]:
    """Changes whenever a key is added or retired (keys are never deleted or un-retired): the
    cheap question a running process asks before reloading its keys."""
    row = conn.execute(select(func.count(SigningKey.id), func.count(SigningKey.retired_at))).one()
    return int(row[0]), int(row[1])
