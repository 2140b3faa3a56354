"""Undoing a link, an unlink or a merge from the audit trail, when the trail allows it.

An event can be undone when it recorded the accounts each identity held after it (``after``)
and nothing has changed since: every identity it left still exists, is not merged into
another, and holds exactly those accounts. Then:

* ``account.unlinked``: the account goes back, by linking it to the identity it left
  (``actions.link``: the identity the unlink made is merged into it, its ``sub`` an alias);
* ``identity.merged``, ``link.approved`` that merged, and ``account.linked`` by a rule or by
  the person: the accounts it brought move off together onto one new identity
  (``idp.linking.split``).

The undo is that ordinary change, audited as usual, with ``undoes`` (the event's id) in its
evidence. Events recorded before ``account.linked`` carried ``after`` have no undo.
Everything here reads; ``undo`` changes, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from idp.errors import Conflict
from idp.linking import actions, split
from idp.oidc.backchannel import Signer
from idp.settings.model import Settings
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.identities import MERGED, Identity, account_key

UNLINKED = AuditEventType.ACCOUNT_UNLINKED.value
BROUGHT = (AuditEventType.IDENTITY_MERGED.value, AuditEventType.LINK_APPROVED.value,
           AuditEventType.ACCOUNT_LINKED.value)


class Kind(StrEnum):
    LINK_BACK = "link_back"  # an unlink undone
    SPLIT_OFF = "split_off"  # a link or merge undone


class Refusal(StrEnum):
    """Why an event that changed memberships cannot be undone."""

    NOT_RECORDED = "not_recorded"  # an older event: it did not record enough
    GONE = "gone"  # an identity it left was merged into another since
    CHANGED = "changed"  # accounts moved since
    UNDONE = "undone"  # a later change undid it


@dataclass(frozen=True)
class Plan:
    """What undoing ``event`` would do: on ``identity``, the ``accounts`` that move (back
    from ``other``, or off onto a new identity); or why it cannot (``refusal``).
    ``involved``: every identity whose accounts the undo changes."""

    event: AuditEvent
    kind: Kind
    refusal: Refusal | None = None
    identity: Identity | None = None
    other: Identity | None = None
    accounts: tuple[str, ...] = ()

    @property
    def involved(self) -> tuple[Identity, ...]:
        return tuple(i for i in (self.identity, self.other) if i is not None)


def plan(db: Session, event: AuditEvent) -> Plan | None:
    """How ``event`` would be undone; None for an event that changed no membership."""
    details = event.details or {}
    if event.type == UNLINKED:
        return _plan_link_back(db, event, details)
    if event.type in BROUGHT and (event.type == AuditEventType.ACCOUNT_LINKED.value
                                  or details.get("absorbed_sub")):
        return _plan_split_off(db, event, details)
    return None


def _plan_link_back(db: Session, event: AuditEvent, details: Mapping[str, Any]) -> Plan:
    after = details.get("after")
    old_sub, new_sub = details.get("sub"), details.get("new_sub")
    if not isinstance(after, dict) or old_sub not in after or new_sub not in after:
        return Plan(event, Kind.LINK_BACK, Refusal.NOT_RECORDED)
    left, made = _identity(db, old_sub), _identity(db, new_sub)
    refusal = _refusal(db, event, after, [left, made])
    if refusal is not None or left is None or made is None:
        return Plan(event, Kind.LINK_BACK, refusal or Refusal.GONE)
    return Plan(event, Kind.LINK_BACK, None, left, made, tuple(after[new_sub]))


def _plan_split_off(db: Session, event: AuditEvent, details: Mapping[str, Any]) -> Plan:
    after, before, sub = details.get("after"), details.get("before"), details.get("sub")
    if not isinstance(after, dict) or sub not in after:
        return Plan(event, Kind.SPLIT_OFF, Refusal.NOT_RECORDED)
    absorbed = details.get("absorbed_sub")
    if absorbed:
        brought = before.get(absorbed) if isinstance(before, dict) else None
        if not isinstance(brought, list) or not brought:
            return Plan(event, Kind.SPLIT_OFF, Refusal.NOT_RECORDED)
    elif isinstance(details.get("account"), str):
        brought = [details["account"]]
    else:
        return Plan(event, Kind.SPLIT_OFF, Refusal.NOT_RECORDED)
    survivor = _identity(db, sub)
    refusal = _refusal(db, event, after, [survivor])
    if refusal is not None or survivor is None:
        return Plan(event, Kind.SPLIT_OFF, refusal or Refusal.GONE)
    return Plan(event, Kind.SPLIT_OFF, None, survivor, None, tuple(sorted(brought)))


def _identity(db: Session, sub: Any) -> Identity | None:
    """The identity that had ``sub`` itself (not an alias): None when none did."""
    if not isinstance(sub, str):
        return None
    return db.scalars(select(Identity).where(Identity.sub == sub)).one_or_none()


def _refusal(db: Session, event: AuditEvent, after: Mapping[str, Any],
             identities: Sequence[Identity | None]) -> Refusal | None:
    if any(i is None or i.status == MERGED for i in identities):
        return Refusal.UNDONE if undone(db, event) else Refusal.GONE
    for identity in identities:
        assert identity is not None
        if sorted(account_key(a) for a in identity.accounts) != sorted(after[identity.sub]):
            return Refusal.UNDONE if undone(db, event) else Refusal.CHANGED
    return None


def undone(db: Session, event: AuditEvent) -> bool:
    """Whether a later change names ``event`` as the one it undid."""
    marks = [f'%"undoes": {event.id},%', f'%"undoes": {event.id}}}%']
    text = cast(AuditEvent.details, Text)
    stmt = select(AuditEvent.id).where(AuditEvent.id > event.id,
                                       AuditEvent.type.in_([UNLINKED, *BROUGHT]),
                                       or_(*(text.like(m) for m in marks)))
    return db.scalar(stmt.limit(1)) is not None


def undo(db: Session, signer: Signer, event: AuditEvent, *, reason: str, actor: str,
         settings: Settings, ip: str | None = None) -> tuple[Identity, list[int]]:
    """Undo ``event`` (planned again here); returns the identity the undo acted on and the
    Security Event Tokens queued. ``Conflict`` when it cannot be undone (any more)."""
    found = plan(db, event)
    if found is None or found.refusal is not None or found.identity is None:
        why = found.refusal.value if found is not None and found.refusal else "no undo"
        raise Conflict(f"undo of event {event.id}: {why}",
                       public="This change cannot be undone any more.")
    evidence = {"method": "helpdesk", "undoes": event.id, "undone_type": event.type}
    if found.kind is Kind.LINK_BACK:
        outcome, queued = actions.link(db, signer, found.identity, event.details["account"],
                                       reason=reason, actor=actor, settings=settings,
                                       evidence=evidence)
        return outcome.survivor, queued
    _created, queued = split.split(db, signer, found.identity, found.accounts, reason=reason,
                                   actor=actor, settings=settings, evidence=evidence, ip=ip)
    return found.identity, queued
