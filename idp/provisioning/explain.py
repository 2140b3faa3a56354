"""Why a person has what they have: ``idp access explain``, the helpdesk API's
``/identities/{sub}/access`` and "What you can use" on My Campus ID all read this one shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.settings.model import Settings
from idp.storage.identities import Identity
from idp.storage.provisioning import AccessGrant, GrantState

_ORDER = {GrantState.ACTIVE.value: 0, GrantState.GRACE.value: 1, GrantState.ENDED.value: 2}


def grants_for(db: Session, identity: Identity) -> list[AccessGrant]:
    grants = db.scalars(select(AccessGrant).where(AccessGrant.identity_id == identity.id))
    return sorted(grants, key=lambda g: (_ORDER.get(g.state, 3), g.resource))


def explain(db: Session, settings: Settings, identity: Identity) -> dict[str, Any]:
    """``{"person": {"campus_id", "sub"}, "grants": [{"resource", "state", "since", "until",
    "because": [{"policy", "account"}]}]}``; accounts named ``user@scope``, gone or not."""
    del settings  # the stored reasons already name accounts as user@scope
    return {
        "person": {"campus_id": identity.campus_id, "sub": identity.sub},
        "grants": [
            {"resource": g.resource, "state": g.state, "since": g.since.isoformat(),
             "until": g.until.isoformat() if g.until else None,
             "because": [{"policy": r["policy"], "account": r["account"]} for r in g.because]}
            for g in grants_for(db, identity)
        ],
    }
