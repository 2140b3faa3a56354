"""The delivery jobs as staff see them (``idp deliveries``, the helpdesk API, the admin UI):
list them, and send a dead-lettered one again.

A retry sends the SAME job (same idempotency key, attempts kept) at once, audited with who
asked and why. Only a failed job is retried, and not one that a newer job of the same
person, resource and connector has superseded: sending it now would deliver an old state
after the newer one (a grant after its revoke).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.errors import Conflict, NotFound
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.provisioning import DeliveryJob, JobState

STATES = tuple(s.value for s in JobState)


def job_json(job: DeliveryJob) -> dict[str, Any]:
    return {"id": job.id, "connector": job.connector, "type": job.kind, "resource": job.resource,
            "campus_id": job.campus_id, "state": job.state, "attempts": job.attempts,
            "last_error": job.last_error, "request_id": job.request_id}


def jobs(db: Session, *, state: str | None = None, connector: str | None = None,
         after: int = 0, limit: int | None = None) -> list[DeliveryJob]:
    """Oldest first, from the id after ``after``."""
    query = select(DeliveryJob).where(DeliveryJob.id > after).order_by(DeliveryJob.id)
    if state is not None:
        query = query.where(DeliveryJob.state == state)
    if connector is not None:
        query = query.where(DeliveryJob.connector == connector)
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query))


def find(db: Session, job_id: int) -> DeliveryJob:
    job = db.get(DeliveryJob, job_id)
    if job is None:
        raise NotFound(f"delivery job {job_id}", public=f"No delivery job {job_id}.")
    return job


def superseded_by(db: Session, job: DeliveryJob) -> int | None:
    """The newest later job of the same connector, person and resource, if any."""
    return db.scalar(select(DeliveryJob.id).where(
        DeliveryJob.connector == job.connector, DeliveryJob.identity_id == job.identity_id,
        DeliveryJob.resource == job.resource, DeliveryJob.id > job.id,
    ).order_by(DeliveryJob.id.desc()).limit(1))


def retry(db: Session, job: DeliveryJob, *, actor: str, reason: str) -> DeliveryJob:
    """Make a failed job due now (the caller commits); ``Conflict`` for any other."""
    if job.state != JobState.FAILED.value:
        raise Conflict(f"job {job.id} is {job.state}",
                       public=f"Delivery job {job.id} is {job.state}, not failed: "
                              "only a failed job is retried.")
    newer = superseded_by(db, job)
    if newer is not None:
        raise Conflict(f"job {job.id} superseded by {newer}",
                       public=f"Delivery job {job.id} was superseded by job {newer} for the same "
                              "person, resource and connector; sending it now would deliver "
                              "an old state.")
    now = utcnow()
    job.state, job.next_attempt_at, job.updated_at = JobState.PENDING.value, now, now
    job.claimed_at = job.claimed_by = None
    audit.record(db, AuditEventType.DELIVERY_RETRIED, actor=actor, identity_id=job.identity_id,
                 job=job.id, connector=job.connector, kind=job.kind, resource=job.resource,
                 attempts=job.attempts, reason=reason)
    return job


def retry_all_failed(db: Session, *, actor: str, reason: str,
                     connector: str | None = None) -> tuple[list[DeliveryJob], list[int]]:
    """Retry every failed job that is not superseded; (retried, ids of superseded ones)."""
    retried: list[DeliveryJob] = []
    skipped: list[int] = []
    failed: Sequence[DeliveryJob] = jobs(db, state=JobState.FAILED.value, connector=connector)
    for job in failed:
        if superseded_by(db, job) is not None:
            skipped.append(job.id)
        else:
            retried.append(retry(db, job, actor=actor, reason=reason))
    return retried, skipped


def troubled_of(db: Session, identity_ids: Sequence[int], *, limit: int = 20) -> list[DeliveryJob]:
    """A person's jobs that failed (dead-lettered) or are waiting to be tried again after an
    error, newest first (the helpdesk console's person page)."""
    return list(db.scalars(select(DeliveryJob).where(
        DeliveryJob.identity_id.in_(list(identity_ids)),
        (DeliveryJob.state == JobState.FAILED.value)
        | ((DeliveryJob.state == JobState.PENDING.value) & DeliveryJob.last_error.is_not(None)),
    ).order_by(DeliveryJob.id.desc()).limit(limit)))
