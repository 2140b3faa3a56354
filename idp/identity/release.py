"""Attribute release: which of a person's claims one relying party actually receives.

A client gets the claims of the scopes it was granted, narrowed by its release policy: the
consortium's default for the client, then every narrowing set by an organization the person
has an account at (so a person of two universities is narrowed by both). A narrowing never
widens: the result is the intersection of the levels that restrict. ``sub`` is always
released and ``email_verified`` goes with ``email``. The same function filters the ID token
and UserInfo, so neither shows a claim the other hides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session, object_session

from idp.identity.claim_names import ALWAYS_RELEASED, COMPANIONS
from idp.identity.claims import Account, Person, claims_for
from idp.identity.entitlements import granted_entitlements
from idp.identity.subjects import subject_for
from idp.settings import Settings
from idp.storage.clients import Client
from idp.storage.release import CONSORTIUM


def allowed_claims(policies: Mapping[str, frozenset[str]],
                   organizations: Iterable[str]) -> frozenset[str] | None:
    """What the policy lets through for a person of these organizations; None: no limit."""
    allowed = policies.get(CONSORTIUM)
    for organization in sorted(set(organizations)):
        narrowing = policies.get(organization) if organization != CONSORTIUM else None
        if narrowing is not None:
            allowed = narrowing if allowed is None else allowed & narrowing
    return allowed


def release(claims: Mapping[str, Any], allowed: frozenset[str] | None) -> dict[str, Any]:
    """The claims that pass ``allowed``, in their order."""
    if allowed is None:
        return dict(claims)
    return {name: value for name, value in claims.items()
            if name in ALWAYS_RELEASED or name in allowed or COMPANIONS.get(name) in allowed}


def released_claims(settings: Settings, client: Client, identity: Person[Account],
                    scopes: Iterable[str], policies: Mapping[str, frozenset[str]],
                    db: Session | Connection | None = None) -> dict[str, Any]:
    """The claims ``client`` receives about ``identity`` for the granted ``scopes``, with the
    subject it sees (public or pairwise, ``idp.identity.subjects``), under the client's release
    ``policies`` (``idp.context.release_policies``). ``db``: where the person's grants are
    read, by default the session ``identity`` was loaded in (a row has none)."""
    wanted = list(scopes)
    granted = (granted_entitlements(db if db is not None else object_session(identity),
                                    settings.access.resources, identity.id)
               if "campus" in wanted else [])
    claims = claims_for(identity, wanted, settings.organizations,
                        settings.linking.primary_precedence, granted)
    claims["sub"] = subject_for(client, identity, settings.server.secret_key)
    organizations = {account.organization for account in identity.accounts}
    return release(claims, allowed_claims(policies, organizations))
