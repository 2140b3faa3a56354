"""Consent decisions: which scopes a person allowed a relying party, remembered per client."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage.base import Base, UtcDateTime, utcnow


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("identity_id", "client_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


def has_consent(db: Session, identity_id: int, client_pk: int, scopes: set[str]) -> bool:
    consent = _find(db, identity_id, client_pk)
    return consent is not None and scopes <= set(consent.scope.split())


def remember_consent(db: Session, identity_id: int, client_pk: int, scopes: set[str]) -> None:
    """Store the union of what was allowed before and now."""
    consent = _find(db, identity_id, client_pk)
    if consent is None:
        db.add(Consent(identity_id=identity_id, client_pk=client_pk, scope=" ".join(sorted(scopes))))
    else:
        consent.scope = " ".join(sorted(scopes | set(consent.scope.split())))
        consent.granted_at = utcnow()


def _find(db: Session, identity_id: int, client_pk: int) -> Consent | None:
    stmt = select(Consent).where(Consent.identity_id == identity_id, Consent.client_pk == client_pk)
    return db.scalars(stmt).one_or_none()
