"""Re-issuing a lost campus card (``idp card reissue``, the helpdesk API): the active card
revoked, a new number issued, both audited, and for each ``library`` resource the person
holds (active or in grace) a ``grant`` job per connector carrying the new ``card_number`` and
the ``previous_card_number`` the library must stop accepting: all in the caller's
transaction. Also what ``idp card show`` and the API print of a person's cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from idp.errors import Conflict, InvalidInput
from idp.provisioning import outbox
from idp.provisioning.cards import is_library, issue
from idp.provisioning.explain import grants_for
from idp.provisioning.grants import Transition, lock_identities
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.cards import CampusCard, CardState, active_card, cards_of
from idp.storage.identities import Identity
from idp.storage.provisioning import DeliveryJob, GrantState

MAX_REASON = 500


@dataclass(frozen=True)
class Reissued:
    revoked: CampusCard | None  # None: the person held library access but had no card yet
    issued: CampusCard
    jobs: tuple[DeliveryJob, ...]

    def as_json(self) -> dict[str, Any]:
        return {"card_number": self.issued.number,
                "previous_card_number": self.revoked.number if self.revoked else None,
                "jobs": [job.id for job in self.jobs]}


def check_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput("card reissue reason", public=f"reason (1 to {MAX_REASON} characters) "
                                                          "is required.")
    return reason.strip()


def reissue(db: Session, settings: Settings, identity: Identity, *, reason: str, actor: str,
            now: datetime) -> Reissued:
    """Refused (Conflict) for a person with neither an active card nor library access."""
    reason = check_reason(reason)
    lock_identities(db, [identity.id])
    grants = [g for g in grants_for(db, identity) if g.state != GrantState.ENDED.value]
    libraries = [g for g in grants if is_library(settings, g.resource)]
    old = active_card(db, identity.id)
    if old is None and not libraries:
        raise Conflict(f"identity {identity.id} has no card",
                       public="This person has no active campus card to re-issue.")
    if old is not None:
        old.state, old.revoked_at, old.revoke_reason = CardState.REVOKED.value, now, reason
        db.flush()  # one active card per person: the old one goes first
    new = issue(db, identity, actor=actor, now=now, reason=reason,
                replaces=old.number if old else None)
    if old is not None:
        audit.record(db, AuditEventType.CARD_REVOKED, actor=actor, identity_id=identity.id,
                     number=old.number, reason=reason, replaced_by=new.number)
    db.flush()
    person = outbox.person_of(settings, identity,
                              previous_card_number=old.number if old else None)
    held = sorted(g.resource for g in grants)
    jobs: list[DeliveryJob] = []
    for grant in libraries:
        state = GrantState(grant.state)
        step = Transition(identity.id, grant.resource, state, state, grant.since, grant.until, ())
        jobs.extend(outbox.enqueue(db, settings, identity, step, person, held=held, now=now))
    db.flush()
    return Reissued(old, new, tuple(jobs))


def card_json(card: CampusCard) -> dict[str, Any]:
    return {"number": card.number, "state": card.state, "issued_at": card.issued_at.isoformat(),
            "revoked_at": card.revoked_at.isoformat() if card.revoked_at else None,
            "revoke_reason": card.revoke_reason}


def cards_json(db: Session, identity: Identity) -> dict[str, Any]:
    """``{"campus_id", "sub", "card_number" (the active one or None), "cards": [...]}``,
    every card ever issued, newest first."""
    cards = cards_of(db, identity.id)
    active = next((c.number for c in cards if c.state == CardState.ACTIVE.value), None)
    return {"campus_id": identity.campus_id, "sub": identity.sub, "card_number": active,
            "cards": [card_json(c) for c in cards]}
