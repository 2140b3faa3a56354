"""Taking delivery jobs off the outbox and writing down what became of them, each in a short
transaction of its own, so that no network call ever runs inside one.

A job is claimable when it is ``pending`` and due, or ``in_progress`` under a claim older
than ``claim_timeout_s`` (its worker died); and only when no OLDER job of the same connector
and identity is still pending or in progress, so a revoke never overtakes its grant. On
PostgreSQL the claim selects ``FOR UPDATE SKIP LOCKED``: several workers share the queue and
none takes a row another holds. On SQLite ``BEGIN IMMEDIATE`` serialises the claims; run one
worker there. A result is written only while this worker still holds the claim (a job taken
over after a timeout belongs to its new worker).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from idp import request_id as request_ids
from idp.settings.model import DeliverySettings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.provisioning import DeliveryJob, JobState

log = logging.getLogger(__name__)
KEPT_ERROR_CHARS = 500
_OPEN = (JobState.PENDING.value, JobState.IN_PROGRESS.value)


@dataclass(frozen=True)
class Claimed:
    """A claimed job as the worker delivers it: a copy, read in the claim's transaction."""

    id: int
    key: str
    connector: str
    kind: str
    resource: str
    identity_id: int
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    claimed_at: datetime
    request_id: str | None = None  # of the request, job or command that queued it


@dataclass(frozen=True)
class Done:
    """Delivered."""


@dataclass(frozen=True)
class Retry:
    """``RetryLater`` (or an unexpected error): try again after a backoff, unless too old."""

    error: str
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Dead:
    """``NeverWorks``, or a connector no longer configured: dead-lettered at once."""

    error: str


@dataclass(frozen=True)
class Release:
    """Not attempted (the worker is stopping, the claim grew old in the batch, or its
    connector just failed slowly): back to pending at ``not_before`` (None: at once), with
    its attempts unchanged."""

    note: str | None = None
    not_before: datetime | None = None


Outcome = Done | Retry | Dead | Release


@dataclass
class Tally:
    """What one or more ``record`` calls wrote."""

    done: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0  # results dropped: the claim had passed to another worker

    def __str__(self) -> str:
        return (f"{self.done} delivered, {self.retried} to retry, {self.failed} dead-lettered, "
                f"{self.released} put back, {self.lost} results dropped")

    def add(self, other: Tally) -> None:
        for name in ("done", "retried", "failed", "released", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def claim(db: Session, *, worker: str, now: datetime, limit: int, claim_timeout_s: float,
          due_by: datetime | None = None) -> list[Claimed]:
    """Claim up to ``limit`` jobs, oldest first, and commit the claim (before any delivery).

    ``due_by`` (default ``now``): the latest ``next_attempt_at`` taken; ``idp worker --once``
    passes its start, so a job that fails during the run waits for the next one.
    """
    older = aliased(DeliveryJob)
    blocked = exists().where(older.connector == DeliveryJob.connector,
                             older.identity_id == DeliveryJob.identity_id,
                             older.id < DeliveryJob.id, older.state.in_(_OPEN))
    stale = now - timedelta(seconds=claim_timeout_s)
    query = (select(DeliveryJob.id)
             .where(or_(and_(DeliveryJob.state == JobState.PENDING.value,
                             DeliveryJob.next_attempt_at <= (due_by or now)),
                        and_(DeliveryJob.state == JobState.IN_PROGRESS.value,
                             DeliveryJob.claimed_at < stale)),
                    ~blocked)
             .order_by(DeliveryJob.id).limit(limit)
             .with_for_update(skip_locked=True))
    try:
        ids = list(db.scalars(query))
        if not ids:
            db.commit()
            return []
        db.execute(update(DeliveryJob).where(DeliveryJob.id.in_(ids)).values(
            state=JobState.IN_PROGRESS.value, claimed_at=now, claimed_by=worker, updated_at=now))
        rows = db.execute(select(
            DeliveryJob.id, DeliveryJob.idempotency_key, DeliveryJob.connector, DeliveryJob.kind,
            DeliveryJob.resource, DeliveryJob.identity_id, DeliveryJob.payload,
            DeliveryJob.attempts, DeliveryJob.created_at, DeliveryJob.request_id,
        ).where(DeliveryJob.id.in_(ids)).order_by(DeliveryJob.id)).all()
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return [Claimed(r.id, r.idempotency_key, r.connector, r.kind, r.resource, r.identity_id,
                    r.payload, r.attempts, r.created_at, now, r.request_id) for r in rows]


@dataclass
class Recorder:
    """Writes outcomes for one worker under its delivery settings."""

    worker: str
    delivery: DeliverySettings
    rng: random.Random = field(default_factory=random.Random)

    def record(self, db: Session, results: Sequence[tuple[Claimed, Outcome]], *,
               now: datetime) -> Tally:
        """Write every result in one transaction and commit it."""
        tally = Tally()
        try:
            done = [job.id for job, outcome in results if isinstance(outcome, Done)]
            if done:
                count = self._update(db, done, state=JobState.DONE.value, last_error=None,
                                     attempts=DeliveryJob.attempts + 1, now=now)
                tally.done += count
                tally.lost += len(done) - count
            for job, outcome in results:
                if not isinstance(outcome, Done):
                    self._one(db, job, outcome, now, tally)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        if tally.lost:
            log.warning("%d result(s) dropped: their claims had passed to another worker",
                        tally.lost)
        return tally

    def _one(self, db: Session, job: Claimed, outcome: Outcome, now: datetime,
             tally: Tally) -> None:
        if isinstance(outcome, Release):
            values: dict[str, Any] = {"state": JobState.PENDING.value,
                                      "next_attempt_at": outcome.not_before or now}
            if outcome.note is not None:
                values["last_error"] = outcome.note[:KEPT_ERROR_CHARS]
            kept = self._update(db, [job.id], now=now, **values)
            tally.released += kept
        elif isinstance(outcome, Retry) and now - job.created_at < timedelta(
                seconds=self.delivery.max_age_s):
            attempts = job.attempts + 1
            kept = self._update(db, [job.id], state=JobState.PENDING.value, attempts=attempts,
                                next_attempt_at=now + timedelta(seconds=self.backoff(
                                    attempts, outcome.retry_after_s)),
                                last_error=outcome.error[:KEPT_ERROR_CHARS], now=now)
            tally.retried += kept
        else:
            assert isinstance(outcome, Retry | Dead)
            error = outcome.error[:KEPT_ERROR_CHARS]
            if isinstance(outcome, Retry):
                error = f"gave up after {self.delivery.max_age_s:g} s: {error}"[:KEPT_ERROR_CHARS]
            kept = self._update(db, [job.id], state=JobState.FAILED.value,
                                attempts=job.attempts + 1, last_error=error, now=now)
            if kept:
                with request_ids.bound(job.request_id or request_ids.current()):
                    log.warning("delivery job %d (%s, %s) dead-lettered: %s", job.id,
                                job.connector, job.kind, error)
                    audit.record(db, AuditEventType.DELIVERY_FAILED, actor="system",
                                 identity_id=job.identity_id, job=job.id,
                                 connector=job.connector, kind=job.kind, resource=job.resource,
                                 attempts=job.attempts + 1, error=error)
            tally.failed += kept
        tally.lost += 1 - kept

    def backoff(self, attempts: int, retry_after_s: float | None) -> float:
        """Seconds until the next attempt: exponential with full jitter, or what the
        receiver asked for when that is longer."""
        ceiling = min(self.delivery.max_retry_s,
                      self.delivery.first_retry_s * 2 ** min(attempts - 1, 60))
        wait = self.rng.uniform(0, ceiling)
        return max(wait, retry_after_s or 0.0)

    def _update(self, db: Session, ids: list[int], *, now: datetime, **values: Any) -> int:
        result = db.execute(update(DeliveryJob).where(
            DeliveryJob.id.in_(ids), DeliveryJob.claimed_by == self.worker,
            DeliveryJob.state == JobState.IN_PROGRESS.value,
        ).values(claimed_at=None, claimed_by=None, updated_at=now, **values))
        return int(result.rowcount)  # type: ignore[attr-defined]
