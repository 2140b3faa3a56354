"""The reconcile pass (``idp worker --reconcile CONNECTOR``): compare what a listing connector
holds with the active and grace grants of each resource it serves, and queue what repairs the
drift through the outbox: a grant job for each person missing, a revoke job for each extra
campus id that names an identity (one that names none is only counted). A person with a job
of that connector and resource still open is left to it. The listing is read before any
transaction opens; the jobs of each resource are queued in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Connector, DeliveryKind, ListingConnector, NeverWorks, RetryLater
from idp.errors import IdpError, InvalidInput, NotFound
from idp.provisioning import outbox
from idp.settings.model import Settings
from idp.storage.base import utcnow
from idp.storage.identities import Identity
from idp.storage.provisioning import AccessGrant, DeliveryJob, GrantState, JobState

_HELD = (GrantState.ACTIVE.value, GrantState.GRACE.value)
_OPEN = (JobState.PENDING.value, JobState.IN_PROGRESS.value)


def listing(connectors: dict[str, Connector], name: str) -> ListingConnector:
    connector = connectors.get(name)
    if connector is None:
        raise NotFound(f"connector {name!r}", public=f"No connector {name} is configured.")
    if not isinstance(connector, ListingConnector):
        raise InvalidInput(f"connector {name!r} cannot list",
                           public=f"Connector {name} cannot list what it holds, so it cannot be "
                                  "reconciled.")
    return connector


def reconcile(sessions: Callable[[], Session], settings: Settings,
              connectors: dict[str, Connector], name: str) -> dict[str, Any]:
    """Repair the drift of connector ``name``; a summary per resource."""
    connector = listing(connectors, name)
    summary: list[dict[str, Any]] = []
    for resource in sorted(r.id for r in settings.access.resources.values()
                           if name in r.connectors):
        held = _listed(connector, name, resource)  # no transaction open
        with sessions() as db:
            summary.append(_resource(db, settings, name, resource, held, utcnow()))
            db.commit()
    return {"connector": name, "resources": summary,
            "jobs": sum(r["grants_queued"] + r["revokes_queued"] for r in summary)}


class ListingFailed(IdpError):
    """The system behind the connector did not say what it holds: nothing was queued."""


def _listed(connector: ListingConnector, name: str, resource: str) -> set[str]:
    try:
        return {str(c) for c in connector.list_granted(resource)}
    except (RetryLater, NeverWorks) as exc:
        raise ListingFailed(f"{name} {resource}: {exc}",
                            public=f"Connector {name} could not list {resource}: {exc}. "
                                   "Nothing was queued for it.") from None


def _resource(db: Session, settings: Settings, name: str, resource: str, held: set[str],
              now: datetime) -> dict[str, Any]:
    granted = {identity.campus_id: (identity, grant) for grant, identity in db.execute(
        select(AccessGrant, Identity).join(Identity, Identity.id == AccessGrant.identity_id)
        .where(AccessGrant.resource == resource, AccessGrant.state.in_(_HELD)))}
    busy = set(db.scalars(select(DeliveryJob.campus_id).where(
        DeliveryJob.connector == name, DeliveryJob.resource == resource,
        DeliveryJob.state.in_(_OPEN))))
    missing = sorted(set(granted) - held - busy)
    extra = sorted(held - set(granted) - busy)
    for campus_id in missing:
        identity, grant = granted[campus_id]
        _queue(db, settings, name, resource, identity, DeliveryKind.GRANT, {
            "state": grant.state, "since": grant.since.isoformat(),
            "until": grant.until.isoformat() if grant.until else None}, now)
    known = {i.campus_id: i for i in db.scalars(select(Identity).where(
        Identity.campus_id.in_(extra)))} if extra else {}
    for campus_id in extra:
        if campus_id in known:
            ended = db.scalars(select(AccessGrant).where(
                AccessGrant.identity_id == known[campus_id].id,
                AccessGrant.resource == resource)).first()
            _queue(db, settings, name, resource, known[campus_id], DeliveryKind.REVOKE, {
                "state": GrantState.ENDED.value,
                "since": ended.since.isoformat() if ended else None,
                "until": (ended.until or now).isoformat() if ended else now.isoformat()}, now)
    return {"resource": resource, "held": len(held), "expected": len(granted),
            "grants_queued": len(missing), "revokes_queued": len(set(extra) & set(known)),
            "unknown": len(set(extra) - set(known)),
            "left_to_open_jobs": len((set(granted) ^ held) & busy)}


def _queue(db: Session, settings: Settings, name: str, resource: str, identity: Identity,
           kind: DeliveryKind, grant: dict[str, Any], now: datetime) -> None:
    db.add(DeliveryJob(
        idempotency_key=outbox.new_key(), connector=name, kind=kind.value, resource=resource,
        identity_id=identity.id, campus_id=identity.campus_id,
        payload={"grant": grant, "person": outbox.person_of(settings, identity)},
        state=JobState.PENDING.value, attempts=0, next_attempt_at=now, created_at=now,
        updated_at=now))
