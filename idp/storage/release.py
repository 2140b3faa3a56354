"""Release policies: the claims a relying party may receive, stored per client.

One row per (client, organization). ``organization`` empty (``CONSORTIUM``) is the consortium's
default for the client; a row for an organization narrows it for that organization's people.
No row means no restriction at that level: every claim of the granted scopes. ``sub`` is
always released and never stored here.

These functions take the caller's Session and never commit. ``set_release`` writes the audit
event of the change in the same transaction; claim names are checked before it is called
(``idp.admin.release.change_release`` checks them, as the CLI and the admin UI do).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.clients import Client

CONSORTIUM = ""  # the organization key of the consortium's default


class ReleasePolicy(Base):
    __tablename__ = "release_policies"
    __table_args__ = (UniqueConstraint("client_pk", "organization"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    organization: Mapped[str] = mapped_column(String(32), default=CONSORTIUM)
    claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


def policies_of(db: Session, client_pk: int) -> dict[str, frozenset[str]]:
    """Every level that restricts this client: ``{"": default, "tpu": narrowing, ...}``."""
    rows = db.scalars(select(ReleasePolicy).where(ReleasePolicy.client_pk == client_pk))
    return {row.organization: frozenset(row.claims) for row in rows}


def get_release(db: Session, client_pk: int, organization: str = CONSORTIUM) -> frozenset[str] | None:
    """The claims one level allows; None when that level does not restrict."""
    row = _find(db, client_pk, organization)
    return frozenset(row.claims) if row is not None else None


def set_by(db: Session, client_pk: int, organization: str = CONSORTIUM) -> str | None:
    """Who last set one level (``config`` for a static client's ``release_claims``)."""
    row = _find(db, client_pk, organization)
    return row.updated_by if row is not None else None


def set_release(db: Session, client: Client, claims: Collection[str] | None, *,
                organization: str = CONSORTIUM, actor: str) -> bool:
    """Set (or, with None, remove) one level's claims; audited when something changed.
    Returns whether it changed.

    Two saves of one level at once ("Save" clicked twice) are serialised: the row is read
    locked, and a first row inserted by both meets the unique constraint, where the loser
    compares with the winner's row instead of failing."""
    after = sorted(set(claims)) if claims is not None else None
    for _ in range(2):
        row = _find(db, client.id, organization, lock=True)
        before = sorted(row.claims) if row is not None else None
        if before == after:
            return False
        if after is None:
            assert row is not None
            db.delete(row)
        elif row is None:
            try:
                with db.begin_nested():
                    db.add(ReleasePolicy(client_pk=client.id, organization=organization,
                                         claims=after, updated_by=actor[:200]))
            except IntegrityError:
                continue  # saved by someone else a moment ago: compare with theirs
        else:
            row.claims, row.updated_at, row.updated_by = after, utcnow(), actor[:200]
        audit.record(db, AuditEventType.CLIENT_RELEASE_CHANGED, actor=actor,
                     client_id=client.client_id, organization=organization or None,
                     before=before, after=after)
        return True
    raise RuntimeError("the release policy changed under two attempts in a row")


def _find(db: Session, client_pk: int, organization: str, *,
          lock: bool = False) -> ReleasePolicy | None:
    stmt = select(ReleasePolicy).where(ReleasePolicy.client_pk == client_pk,
                                       ReleasePolicy.organization == organization)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.scalars(stmt).one_or_none()
