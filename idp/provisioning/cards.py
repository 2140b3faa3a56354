"""Issuing campus cards: a person gets one when a grant of a ``library`` resource becomes
active or enters grace and they hold no active card; the card stays when access ends (a
library may keep the patron, and the number is the person's for good). Each issue is
audited (``card.issued``) in the caller's transaction. Re-issuing a lost card is
``idp.provisioning.card_reissue``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from idp.errors import IdpError
from idp.provisioning.card_numbers import new_number
from idp.settings.model import ResourceKind, Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.cards import CampusCard, CardState, current_card, number_pending_or_taken
from idp.storage.identities import Identity
from idp.storage.provisioning import GrantState

if TYPE_CHECKING:
    from idp.provisioning.grants import Transition

# A draw collides about once in 10**4 (docstring of card_numbers); 20 collisions in a row
# mean something else is wrong.
MAX_DRAWS = 20


class NoFreeNumber(IdpError):
    public = "No free campus card number was found; try again."


def is_library(settings: Settings, resource: str) -> bool:
    found = settings.access.resources.get(resource)
    return found is not None and found.kind is ResourceKind.LIBRARY


def ensure_for(db: Session, settings: Settings, identity: Identity,
               transitions: Iterable[Transition], *, actor: str, now: datetime) -> CampusCard | None:
    """The card ``grants.apply`` makes sure of before it queues jobs: issued when a step
    makes a library resource active or puts it in grace and the person has no active card."""
    if not any(step.after is not GrantState.ENDED and is_library(settings, step.resource)
               for step in transitions):
        return None
    return current_card(db, identity.id) or issue(db, identity, actor=actor, now=now,
                                                  reason="library access")


def issue(db: Session, identity: Identity, *, actor: str, now: datetime, reason: str,
          replaces: str | None = None) -> CampusCard:
    """A new active card with a number no card ever had (drawn again on a collision; the
    unique constraint stops two transactions that drew the same number at once)."""
    for _ in range(MAX_DRAWS):
        number = new_number()
        if not number_pending_or_taken(db, number):
            break
    else:
        raise NoFreeNumber(f"{MAX_DRAWS} draws all taken")
    card = CampusCard(identity_id=identity.id, number=number, state=CardState.ACTIVE.value,
                      issued_at=now)
    db.add(card)
    audit.record(db, AuditEventType.CARD_ISSUED, actor=actor, identity_id=identity.id,
                 number=number, reason=reason, replaces=replaces)
    return card


def retire(db: Session, identity: Identity, *, actor: str, now: datetime, reason: str) -> None:
    """An identity absorbed by a merge gives up its active card (audited ``card.revoked``):
    the survivor holds the person's card, so one person never has two live numbers."""
    card = current_card(db, identity.id)
    if card is None or card.state != CardState.ACTIVE.value:
        return
    card.state, card.revoked_at, card.revoke_reason = CardState.REVOKED.value, now, reason
    audit.record(db, AuditEventType.CARD_REVOKED, actor=actor, identity_id=identity.id,
                 number=card.number, reason=reason)
