"""Grants: one per campus identity and resource, recomputed from the policies whenever they can
change, each change audited and queued for delivery in the caller's transaction.

States: ``active`` (since when), ``grace`` (the policies stopped holding; access goes on
until a date, the longest ``grace_days`` of the policies that granted it), ``ended``. ``since``
is when the current run of access began; ``until`` is the grace end, or when it ended.
A grant that starts, enters grace or comes back from it is delivered as ``grant`` (a connector
learns the new end date); one that ends is delivered as ``revoke``. An identity absorbed by a
merge ends its grants at once: the survivor holds them from then on; so does a locked identity
until it is unlocked.

``plan`` decides without writing, so a bulk recompute or a directory sync can count what
would end before ending anything (the safety brake); ``apply`` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.provisioning import cards, outbox
from idp.provisioning.policies import AccountFacts, Reason, entitled, grace_days
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import IN_DIRECTORY, MERGED, Identity
from idp.storage.provisioning import AccessGrant, DeliveryJob, GrantState


@dataclass(frozen=True)
class Transition:
    """What happens to one grant. ``before`` is None for a grant the person never had."""

    identity_id: int
    resource: str
    before: GrantState | None
    after: GrantState
    since: datetime
    until: datetime | None
    because: tuple[Reason, ...]

    @property
    def removes(self) -> bool:
        """Whether this takes away access that was fully on (what the safety brake counts)."""
        return self.before is GrantState.ACTIVE and self.after is not GrantState.ACTIVE

    @property
    def delivered(self) -> bool:
        """Whether connectors hear of it (a change of reasons alone is not news to them)."""
        return self.before is not self.after

    def grant_json(self) -> dict[str, Any]:
        return {"state": self.after.value, "since": self.since.isoformat(),
                "until": self.until.isoformat() if self.until else None}


def account_facts(settings: Settings, identity: Identity) -> list[AccountFacts]:
    facts = []
    for account in identity.accounts:
        org = settings.organizations.get(account.organization)
        scope = org.scope if org else account.organization
        facts.append(AccountFacts(
            account_id=account.id, organization=account.organization,
            name=f"{account.username}@{scope}",
            active=account.directory_state == IN_DIRECTORY and org is not None,
            attributes={k: tuple(v) for k, v in account.attributes.items()},
        ))
    return facts


def lock_identities(db: Session, identity_ids: Sequence[int]) -> None:
    """On PostgreSQL, the identities' rows locked (in id order, so two recomputes never wait
    on each other crosswise) until the transaction ends: two logins of one person at the same
    moment then plan one after the other, and never both insert the same grant. SQLite
    transactions already run one at a time."""
    if identity_ids and db.get_bind().dialect.name == "postgresql":
        db.execute(select(Identity.id).where(Identity.id.in_(sorted(identity_ids)))
                   .order_by(Identity.id).with_for_update())


def grants_of(db: Session, identity_ids: Sequence[int]) -> dict[int, dict[str, AccessGrant]]:
    result: dict[int, dict[str, AccessGrant]] = {i: {} for i in identity_ids}
    if identity_ids:
        for grant in db.scalars(select(AccessGrant).where(
                AccessGrant.identity_id.in_(identity_ids))):
            result[grant.identity_id][grant.resource] = grant
    return result


def plan(settings: Settings, identity: Identity, current: Mapping[str, AccessGrant],
         now: datetime) -> list[Transition]:
    access = settings.access
    wanted = ({} if holds_nothing(identity)
              else entitled(access, account_facts(settings, identity), now.date()))
    transitions = []
    for resource in sorted(set(wanted) | set(current)):
        grant = current.get(resource)
        reasons = tuple(wanted.get(resource, ()))
        step = _step(access_grace(settings, grant), identity, resource, grant, reasons, now)
        if step is not None:
            transitions.append(step)
    return transitions


def holds_nothing(identity: Identity) -> bool:
    """Absorbed by a merge, or locked by the helpdesk (``idp.identity.lock``): entitled to
    nothing, and its grants end at once, without grace."""
    return identity.status == MERGED or identity.locked_at is not None


def access_grace(settings: Settings, grant: AccessGrant | None) -> int:
    if grant is None:
        return 0
    return grace_days(settings.access, (r["policy"] for r in grant.because))


def _step(grace: int, identity: Identity, resource: str, grant: AccessGrant | None,
          reasons: tuple[Reason, ...], now: datetime) -> Transition | None:
    before = GrantState(grant.state) if grant is not None else None
    base = Transition(identity.id, resource, before, GrantState.ACTIVE, now, None, reasons)
    if reasons:
        if grant is None or before is GrantState.ENDED:
            return base  # a new run of access
        if before is GrantState.GRACE:
            return replace(base, since=grant.since)  # held again before it ran out
        if _reason_json(reasons) != grant.because:
            return replace(base, since=grant.since)  # still held, for other reasons
        return None
    if grant is None or before is GrantState.ENDED:
        return None
    kept = tuple(Reason(r["policy"], r["account"], r["account_id"]) for r in grant.because)
    if before is GrantState.ACTIVE:
        if grace > 0 and not holds_nothing(identity):
            return Transition(identity.id, resource, before, GrantState.GRACE, grant.since,
                              now + timedelta(days=grace), kept)
        return Transition(identity.id, resource, before, GrantState.ENDED, grant.since, now, kept)
    if grant.until is not None and grant.until > now and not holds_nothing(identity):
        return None  # in grace, not over yet
    return Transition(identity.id, resource, before, GrantState.ENDED, grant.since,
                      grant.until if grant.until and grant.until <= now else now, kept)


def _reason_json(reasons: Iterable[Reason]) -> list[dict[str, Any]]:
    return [r.as_json() for r in reasons]


_AUDIT = {GrantState.ACTIVE: AuditEventType.ACCESS_GRANTED,
          GrantState.GRACE: AuditEventType.ACCESS_GRACE,
          GrantState.ENDED: AuditEventType.ACCESS_ENDED}


def apply(db: Session, settings: Settings, identity: Identity, transitions: Iterable[Transition],
          current: Mapping[str, AccessGrant], *, actor: str, reason: str,
          now: datetime) -> list[DeliveryJob]:
    """Write the transitions, their audit events and their delivery jobs (added, not
    flushed; the caller commits)."""
    transitions = list(transitions)
    states = {resource: GrantState(g.state) for resource, g in current.items()}
    for step in transitions:
        grant = current.get(step.resource)
        if grant is None:
            grant = AccessGrant(identity_id=identity.id, resource=step.resource)
            db.add(grant)
        grant.state, grant.since, grant.until = step.after.value, step.since, step.until
        grant.because = _reason_json(step.because)
        grant.updated_at = now
        states[step.resource] = step.after
    held = sorted(r for r, state in states.items() if state is not GrantState.ENDED)
    cards.ensure_for(db, settings, identity, transitions, actor=actor, now=now)
    jobs: list[DeliveryJob] = []
    person: dict[str, Any] | None = None
    for step in transitions:
        if not step.delivered:
            continue
        audit.record(db, _AUDIT[step.after], actor=actor, identity_id=identity.id,
                     resource=step.resource, state=step.after.value,
                     previous=step.before.value if step.before else None, reason=reason,
                     until=step.until.isoformat() if step.until else None,
                     because=[f"{r.policy}:{r.account}" for r in step.because])
        if person is None:
            person = outbox.person_of(settings, identity)
        jobs.extend(outbox.enqueue(db, settings, identity, step, person, held=held, now=now))
    if identity.status == MERGED:  # after the revokes, which still name its card
        cards.retire(db, identity, actor=actor, now=now, reason="merged into another identity")
    return jobs


def recompute(db: Session, settings: Settings, identities: Iterable[Identity], *,
              actor: str = "system", reason: str, now: datetime | None = None) -> list[int]:
    """Plan and apply for a few identities at once, without the brake (one person's login,
    link, merge or unlink). Returns the delivery job ids queued."""
    now = now or utcnow()
    identities = list({i.id: i for i in identities}.values())
    db.flush()
    lock_identities(db, [i.id for i in identities])
    current = grants_of(db, [i.id for i in identities])
    jobs: list[DeliveryJob] = []
    for identity in identities:
        steps = plan(settings, identity, current[identity.id], now)
        jobs.extend(apply(db, settings, identity, steps, current[identity.id], actor=actor,
                          reason=reason, now=now))
    if jobs:
        db.flush()
    return [job.id for job in jobs]
