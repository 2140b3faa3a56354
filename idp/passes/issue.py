"""Which passes a person gets: one per grant of a ``sports`` or ``culture`` resource that is
active or in grace, each proving that resource's entitlement (its ``entitlement`` URI, or its
id when it has none), valid ``[pass] lifetime_s`` and never past the end of a grace period.

The display name is cut to ``MAX_NAME`` characters, and cut further when the whole pass would
not fit a version 15 QR code at error correction M; a pass that cannot fit even without a
name (an absurdly long issuer or entitlement) is left out and logged."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.identity.claims import display_name, primary_account
from idp.oidc.keys import KeyRing
from idp.passes.wire import MAX_TEXT, PassClaims, encode
from idp.settings.model import ResourceKind, ResourceSettings, Settings
from idp.storage.identities import Identity
from idp.storage.provisioning import AccessGrant, GrantState

log = logging.getLogger(__name__)
PASS_KINDS = (ResourceKind.SPORTS, ResourceKind.CULTURE)
SIGNING_ALG = "ES256"
MAX_NAME = 40


@dataclass(frozen=True)
class IssuedPass:
    resource: str
    entitlement: str
    text: str
    expires_at: datetime


def pass_resources(settings: Settings) -> dict[str, ResourceSettings]:
    return {rid: r for rid, r in settings.access.resources.items() if r.kind in PASS_KINDS}


def entitlement_of(resource: ResourceSettings) -> str:
    return resource.entitlement or resource.id


def issue_passes(db: Session, settings: Settings, identity: Identity, ring: KeyRing,
                 now: datetime) -> list[IssuedPass]:
    """A fresh pass for each of the person's current sports and culture grants."""
    resources = pass_resources(settings)
    if not resources:
        return []
    grants = db.scalars(select(AccessGrant).where(
        AccessGrant.identity_id == identity.id, AccessGrant.resource.in_(resources),
        AccessGrant.state.in_((GrantState.ACTIVE.value, GrantState.GRACE.value)),
    ).order_by(AccessGrant.resource))
    name = _name(settings, identity)
    issued = []
    for grant in grants:
        expires = now + timedelta(seconds=settings.passes.lifetime_s)
        if grant.state == GrantState.GRACE.value and grant.until is not None:
            expires = min(expires, grant.until)
        entitlement = entitlement_of(resources[grant.resource])
        text = _fitting(settings.server.issuer, identity.campus_id, name, entitlement, now,
                        expires, ring)
        if text is None:
            log.error("pass for %s: too long for a QR code (issuer and entitlement %r)",
                      grant.resource, entitlement)
            continue
        issued.append(IssuedPass(grant.resource, entitlement, text, expires))
    return issued


def _name(settings: Settings, identity: Identity) -> str:
    if not identity.accounts:
        return ""
    account = primary_account(identity, settings.linking.primary_precedence)
    return (display_name(account) or "")[:MAX_NAME]


def _fitting(issuer: str, campus_id: str, name: str, entitlement: str, now: datetime,
             expires: datetime, ring: KeyRing) -> str | None:
    """The signed text, with the name shortened until it fits ``MAX_TEXT``; None if nothing
    fits."""
    pass_id = secrets.token_bytes(8)
    while True:
        claims = PassClaims(issuer=issuer, campus_id=campus_id, name=name,
                            entitlements=(entitlement,), issued_at=int(now.timestamp()),
                            expires_at=int(expires.timestamp()), pass_id=pass_id)
        text = encode(claims, SIGNING_ALG, ring.key_for(SIGNING_ALG))
        if len(text) <= MAX_TEXT:
            return text
        if not name:
            return None
        name = name[:max(0, len(name) - 8)].rstrip()
