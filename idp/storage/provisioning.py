"""Grants of access, the delivery outbox, and the directory sync's bookmarks.

A grant is one per identity and resource; a grant change and the delivery jobs that carry it
to connectors are written in one transaction (the outbox), so neither happens without the
other. A job's ``idempotency_key`` never changes: every retry of it is the same message.
Repositories never commit.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp import request_id as request_ids
from idp.storage.base import Base, UtcDateTime, utcnow


class GrantState(StrEnum):
    ACTIVE = "active"
    GRACE = "grace"  # the policies stopped holding; access goes on until ``until``
    ENDED = "ended"


class JobState(StrEnum):
    PENDING = "pending"  # also while it waits for its next attempt
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"  # dead-lettered: kept with its last error until retried by hand


class AccessGrant(Base):
    __tablename__ = "access_grants"
    __table_args__ = (UniqueConstraint("identity_id", "resource"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    resource: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    # When the current state began (for ``active``: since when the person has access).
    since: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # ``grace``: when it ends; ``ended``: when it ended; ``active``: None.
    until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Why: [{"policy", "account", "account_id"}] of every policy and account that grants it
    # (the last reasons it had, while in grace or ended).
    because: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DeliveryJob(Base):
    __tablename__ = "delivery_jobs"
    __table_args__ = (
        Index("ix_delivery_jobs_due", "state", "next_attempt_at"),
        Index("ix_delivery_jobs_order", "connector", "identity_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    connector: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # connectors.base.DeliveryKind
    resource: Mapped[str] = mapped_column(String(64))
    identity_id: Mapped[int] = mapped_column(Integer)
    campus_id: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"grant": ..., "person": ...}
    state: Mapped[str] = mapped_column(String(16), default=JobState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # The request, job or command that queued it (idp.request_id, current when written): the
    # worker delivers it under that id, so its audit events carry it too.
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True,
                                                   default=request_ids.current)


class DirectorySyncState(Base):
    """Per organization: the incremental sync's high-water mark and the last result."""

    __tablename__ = "directory_sync_state"

    organization: Mapped[str] = mapped_column(String(32), primary_key=True)
    mark: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_full_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PolicyFingerprint(Base):
    """A digest of the access settings last applied, so ``serve`` recomputes every grant at
    start only when the resources or policies changed."""

    __tablename__ = "policy_fingerprints"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
