"""The entitlement URIs a person's access grants carry in the ``entitlements`` claim: those of
the configured resources whose grant is ``active`` or in ``grace`` (docs/claims.md).

Read only when some resource has an ``entitlement``, so a provider without access policies
pays no query for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from idp.settings.model import ResourceSettings
from idp.storage.provisioning import AccessGrant, GrantState

HOLDING = (GrantState.ACTIVE.value, GrantState.GRACE.value)


def granted_entitlements(db: Session | Connection | None, resources: Mapping[str, ResourceSettings],
                         identity_id: int) -> list[str]:
    carried = {r.id: r.entitlement for r in resources.values() if r.entitlement}
    if not carried or db is None:
        return []
    held = db.scalars(select(AccessGrant.resource).where(
        AccessGrant.identity_id == identity_id, AccessGrant.state.in_(HOLDING),
        AccessGrant.resource.in_(sorted(carried))))
    return sorted({carried[resource] for resource in held})
