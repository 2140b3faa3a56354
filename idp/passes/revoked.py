"""The revocation list verifiers cache (``/pass/revoked``): everybody whose sports or culture
grant ended recently, each entry revoking that person's passes for that entitlement issued up
to the moment it ended. An entry stays until every pass it revokes has expired anyway
(``[pass] lifetime_s`` after the end, plus a minute of clock leeway); a grant that is active
again later drops off the list, as new access makes older passes true again."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.passes.issue import entitlement_of, pass_resources
from idp.settings.model import Settings
from idp.storage.identities import Identity
from idp.storage.provisioning import AccessGrant, GrantState

LEEWAY = timedelta(seconds=60)


def revocation_list(db: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """``{"issuer", "issued_at", "ttl", "revoked": [{"campus_id", "entitlement", "before"}]}``,
    times in seconds since the epoch."""
    resources = pass_resources(settings)
    listing: dict[str, Any] = {"issuer": settings.server.issuer, "issued_at": int(now.timestamp()),
                               "ttl": settings.passes.revocation_ttl_s, "revoked": []}
    if not resources:
        return listing
    since = now - timedelta(seconds=settings.passes.lifetime_s) - LEEWAY
    rows = db.execute(
        select(Identity.campus_id, AccessGrant.resource, AccessGrant.until)
        .join(Identity, Identity.id == AccessGrant.identity_id)
        .where(AccessGrant.resource.in_(resources), AccessGrant.state == GrantState.ENDED.value,
               AccessGrant.until >= since)
        .order_by(AccessGrant.until, Identity.campus_id))
    listing["revoked"] = [
        {"campus_id": campus_id, "entitlement": entitlement_of(resources[resource]),
         "before": int(until.timestamp())}
        for campus_id, resource, until in rows if until is not None]
    return listing
