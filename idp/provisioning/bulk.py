"""Recomputing every identity's grants (``idp access recompute``, and ``serve`` at start when
the policies changed), in batches, behind the safety brake per organization.

A first pass plans without writing and counts, per organization, the accounts of identities
that would lose access; an organization over its limit (``idp.provisioning.brake``) keeps
every grant of its people this time (unless ``accept_removals``), while grants that start
still start. The second pass plans again batch by batch (logins may have changed things in
between) and writes each batch in its own transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.provisioning import brake
from idp.provisioning.grants import Transition, apply, grants_of, lock_identities, plan
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import IN_DIRECTORY, Identity, LinkedAccount
from idp.storage.provisioning import GrantState

BATCH = 500


@dataclass
class RecomputeResult:
    identities: int = 0
    granted: int = 0
    grace: int = 0
    ended: int = 0
    jobs: int = 0
    # organization -> why its removals were held back
    stopped: dict[str, str] = field(default_factory=dict)

    def count(self, steps: Iterable[Transition]) -> None:
        for step in steps:
            if step.delivered:
                if step.after is GrantState.ACTIVE:
                    self.granted += 1
                elif step.after is GrantState.GRACE:
                    self.grace += 1
                else:
                    self.ended += 1

    def as_json(self) -> dict[str, object]:
        return {"identities": self.identities, "granted": self.granted, "grace": self.grace,
                "ended": self.ended, "jobs": self.jobs, "stopped": self.stopped or None}


def recompute_all(sessions: Callable[[], Session], settings: Settings, *, accept_removals: bool = False,
                  actor: str = "system", reason: str = "policies recomputed",
                  now: datetime | None = None) -> RecomputeResult:
    now = now or utcnow()
    result = RecomputeResult()
    held = set() if accept_removals else _braked(sessions, settings, now, result)
    for ids in _batches(sessions):
        with sessions() as db:
            lock_identities(db, ids)
            identities = list(db.scalars(select(Identity).where(Identity.id.in_(ids))))
            current = grants_of(db, ids)
            for identity in identities:
                steps = plan(settings, identity, current[identity.id], now)
                if held & {a.organization for a in identity.accounts}:
                    steps = [s for s in steps if not s.removes]
                result.identities += 1
                result.count(steps)
                result.jobs += len(apply(db, settings, identity, steps, current[identity.id],
                                         actor=actor, reason=reason, now=now))
            db.commit()
    return result


def _braked(sessions: Callable[[], Session], settings: Settings, now: datetime,
            result: RecomputeResult) -> set[str]:
    """Organizations whose removals the brake holds back, each audited with its reason."""
    losing: Counter[str] = Counter()
    for ids in _batches(sessions):
        with sessions() as db:
            current = grants_of(db, ids)
            for identity in db.scalars(select(Identity).where(Identity.id.in_(ids))):
                if any(s.removes for s in plan(settings, identity, current[identity.id], now)):
                    losing.update({a.organization for a in identity.accounts})
    held: set[str] = set()
    with sessions() as db:
        for org, removing in losing.items():
            organization = settings.organizations.get(org)
            if organization is None:
                continue
            active = db.scalar(select(func.count()).select_from(LinkedAccount).where(
                LinkedAccount.organization == org,
                LinkedAccount.directory_state == IN_DIRECTORY)) or 0
            if brake.over_limit(removing, active, organization.directory):
                why = brake.reason(org, removing, active, organization.directory)
                held.add(org)
                result.stopped[org] = why
                audit.record(db, AuditEventType.ACCESS_RECOMPUTE_STOPPED, actor="system",
                             organization=org, removing=removing, active=active, reason=why)
        db.commit()
    return held


def _batches(sessions: Callable[[], Session]) -> Iterator[list[int]]:
    last = 0
    while True:
        with sessions() as db:
            ids = list(db.scalars(select(Identity.id).where(Identity.id > last)
                                  .order_by(Identity.id).limit(BATCH)))
        if not ids:
            return
        yield ids
        last = ids[-1]
