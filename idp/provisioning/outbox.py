"""The delivery outbox: a job per connector for each grant change, written in the change's
own transaction with a stable idempotency key (the same on every attempt: a Standard
Webhooks ``webhook-id``, a SCIM or Koha call that is safe to repeat).

The message is fixed when it is queued: what the grant and the person were at that moment.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, object_session

from connectors.base import DeliveryKind
from idp.identity.claims import display_name, first_value, primary_account, scoped_affiliations
from idp.settings.model import Settings
from idp.storage.cards import current_card
from idp.storage.identities import Identity
from idp.storage.provisioning import DeliveryJob, GrantState, JobState

if TYPE_CHECKING:
    from datetime import datetime

    from idp.provisioning.grants import Transition


def person_of(settings: Settings, identity: Identity, *,
              previous_card_number: str | None = None) -> dict[str, Any]:
    """Who the grant is for, as connectors see it (the claims' vocabulary). Connectors pick
    what they need: the webhook sends ``WEBHOOK_PERSON`` fields only; a library also needs the
    names, the home organization and the campus card: ``card_number`` (the active card, read
    through the identity's own session; None without one) and ``previous_card_number`` (the
    card a re-issue revoked, which the library replaces)."""
    person: dict[str, Any] = {
        "campus_id": identity.campus_id, "sub": identity.sub, "name": None, "email": None,
        "organizations": [], "affiliations": [], "given_name": None, "family_name": None,
        "username": None, "home_organization": None,
        "card_number": _card_number(identity), "previous_card_number": previous_card_number,
    }
    if not identity.accounts:
        return person
    account = primary_account(identity, settings.linking.primary_precedence)
    attrs = account.attributes
    org = settings.organizations.get(account.organization)
    person.update(
        name=display_name(account),  # as the name claim has it
        email=first_value(attrs, "email"),
        organizations=sorted({a.organization for a in identity.accounts}),
        affiliations=scoped_affiliations(identity.accounts, settings.organizations),
        given_name=first_value(attrs, "given_name"),
        family_name=first_value(attrs, "family_name"),
        username=f"{account.username}@{org.scope if org else account.organization}",
        home_organization=account.organization,
    )
    return person


def _card_number(identity: Identity) -> str | None:
    db = object_session(identity)
    if db is None or identity.id is None:
        return None
    card = current_card(db, identity.id)
    return card.number if card is not None else None


def _connectors_of(settings: Settings, resource: str) -> tuple[str, ...]:
    found = settings.access.resources.get(resource)
    return found.connectors if found else ()


def new_key() -> str:
    return "msg_" + secrets.token_urlsafe(24)


def enqueue(db: Session, settings: Settings, identity: Identity, step: Transition,
            person: dict[str, Any], *, held: Sequence[str] = (),
            now: datetime) -> list[DeliveryJob]:
    """One job per configured connector of the resource; none for a resource no longer
    configured (nothing to deliver it through). ``held``: every resource the person holds
    (active or grace) after this change; each job carries those of its own connector, so a
    connector can tell whether anything of it is left (Moodle suspends a user with none). Not
    flushed: a bulk recompute writes a whole
    batch at once."""
    resource = settings.access.resources.get(step.resource)
    if resource is None:
        return []
    kind = DeliveryKind.REVOKE if step.after is GrantState.ENDED else DeliveryKind.GRANT
    jobs = []
    for name in resource.connectors:
        if name not in settings.connectors:
            continue
        job = DeliveryJob(
            idempotency_key=new_key(), connector=name, kind=kind.value, resource=step.resource,
            identity_id=identity.id, campus_id=identity.campus_id,
            payload={"grant": step.grant_json(), "person": person,
                     "held": [r for r in held if name in _connectors_of(settings, r)]},
            state=JobState.PENDING.value, attempts=0, next_attempt_at=now,
            created_at=now, updated_at=now,
        )
        db.add(job)
        jobs.append(job)
    return jobs
