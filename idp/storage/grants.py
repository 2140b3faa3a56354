"""Consent decisions: which scopes a person allowed a relying party, remembered per client,
and the claims the consent page listed then (None for consents older than that record): a
consent covers a request when both its scopes and its released claims were allowed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import JSON, ForeignKey, Table, Text, UniqueConstraint, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Executable

from idp.storage.base import Base, UtcDateTime, utcnow


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("identity_id", "client_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    claims: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


def has_consent(db: Session, identity_id: int, client_pk: int, scopes: set[str],
                claims: Collection[str] = ()) -> bool:
    consent = _find(db, identity_id, client_pk)
    if consent is None or not scopes <= set(consent.scope.split()):
        return False
    return consent.claims is None or set(claims) <= set(consent.claims)


def remember_consent(db: Session, identity_id: int, client_pk: int, scopes: set[str],
                     claims: Collection[str] = ()) -> None:
    """Store the union of what was allowed before and now: an upsert, so that "Allow" clicked
    twice (two requests at once) stores one consent instead of failing on the unique pair.
    A first consent is one INSERT; otherwise the row is read locked and widened."""
    inserted = cast("CursorResult[Any]", db.execute(
        _insert_unless_there(db.get_bind().dialect.name),
        {"identity_id": identity_id, "client_pk": client_pk, "scope": " ".join(sorted(scopes)),
         "claims": sorted(set(claims)), "granted_at": utcnow()}))
    if inserted.rowcount == 1:
        return
    stmt = (select(Consent).where(Consent.identity_id == identity_id, Consent.client_pk == client_pk)
            .with_for_update().execution_options(populate_existing=True))
    consent = db.scalars(stmt).one()
    consent.scope = " ".join(sorted(scopes | set(consent.scope.split())))
    consent.claims = sorted(set(claims) | set(consent.claims or ()))
    consent.granted_at = utcnow()


@cache
def _insert_unless_there(dialect: str) -> Executable:
    """INSERT that does nothing when the pair has a consent already (waiting, on PostgreSQL, for
    a concurrent insert of the same pair to commit); PostgreSQL and SQLite spell it alike."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast("Table", Consent.__table__)  # the table, not the entity: a result with rowcount
    return (insert(table)
            .on_conflict_do_nothing(index_elements=["identity_id", "client_pk"]))


def _find(db: Session, identity_id: int, client_pk: int) -> Consent | None:
    stmt = select(Consent).where(Consent.identity_id == identity_id, Consent.client_pk == client_pk)
    return db.scalars(stmt).one_or_none()


def consents_of(db: Session, identity_id: int) -> list[Consent]:
    """The identity's remembered decisions, newest first (for "My Campus ID")."""
    stmt = select(Consent).where(Consent.identity_id == identity_id)
    return list(db.scalars(stmt.order_by(Consent.granted_at.desc(), Consent.id.desc())))


def find_consent(db: Session, identity_id: int, consent_id: int) -> Consent | None:
    """A consent by id, only when it is this identity's."""
    consent = db.get(Consent, consent_id)
    return consent if consent is not None and consent.identity_id == identity_id else None
