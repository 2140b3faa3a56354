"""What the helpdesk console shows: a search result line and a person's whole page (accounts,
primary, open proposals, grants with why, consents, the audit trail newest first), read
through the same functions as the helpdesk API (``idp.linking.helpdesk`` and
``idp.provisioning.explain``) and redacted for a scoped helpdesk the same way: another
organization's account shows as its organization alone.

A person's state: ``locked`` (the helpdesk's lock), ``left`` (no account is active in its
directory any more), else ``active``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from idp.identity.claims import display_name, primary_account
from idp.linking import helpdesk
from idp.linking.helpdesk import HelpdeskScope
from idp.provisioning.explain import explain
from idp.settings.model import OrganizationSettings, Settings
from idp.storage.audit import AuditEvent
from idp.storage.clients import Client
from idp.storage.grants import consents_of
from idp.storage.identities import IN_DIRECTORY, Identity, LinkedAccount, account_key
from idp.storage.linking import LinkProposal, ProposalStatus

ACTIVE, LOCKED, LEFT = "active", "locked", "left"
TIMELINE = 50


def state(identity: Identity) -> str:
    if identity.locked_at is not None:
        return LOCKED
    if identity.accounts and all(a.directory_state != IN_DIRECTORY for a in identity.accounts):
        return LEFT
    return ACTIVE


@dataclass(frozen=True)
class AccountLine:
    """One account as the helpdesk sees it; ``hidden``: another organization's, shown by
    its organization alone."""

    key: str
    organization: str
    hidden: bool
    username: str = ""
    name: str | None = None
    affiliations: tuple[str, ...] = ()
    last_login_at: datetime | None = None
    directory_state: str = ""
    primary: bool = False


@dataclass(frozen=True)
class Found:
    sub: str
    name: str | None
    organizations: tuple[str, ...]
    affiliations: tuple[str, ...]
    state: str


@dataclass(frozen=True)
class PersonPage:
    identity: Identity
    state: str
    name: str | None
    accounts: tuple[AccountLine, ...]
    proposals: tuple[LinkProposal, ...]
    access: dict[str, Any]
    consents: tuple[tuple[str, str, datetime], ...]  # client name, scope, granted at
    timeline: tuple[AuditEvent, ...]
    details: dict[int, Any]  # each event's details, redacted for the scope
    proposal_accounts: dict[int, str]  # each open proposal's account, redacted for the scope
    timeline_kinds: tuple[str, ...] = ()  # the kinds of event in the trail, for its filter
    timeline_kind: str = ""  # the kind shown, or every kind
    timeline_older: int | None = None  # the cursor of the next, older page of the timeline


def accounts(identity: Identity, scope: HelpdeskScope,
             precedence: Sequence[str] = ()) -> list[AccountLine]:
    primary = primary_account(identity, precedence) if identity.accounts else None
    lines = []
    for a in identity.accounts:
        if not scope.includes(a.organization):
            lines.append(AccountLine(a.organization, a.organization, True))
            continue
        lines.append(AccountLine(
            account_key(a), a.organization, False, a.username, display_name(a),
            tuple(str(v) for v in (a.attributes or {}).get("affiliation", [])),
            a.last_login_at, a.directory_state, a is primary))
    return lines


def found(identity: Identity, scope: HelpdeskScope, precedence: Sequence[str]) -> Found:
    lines = accounts(identity, scope, precedence)
    visible = [line for line in lines if not line.hidden]
    name = next((line.name for line in sorted(visible, key=lambda x: not x.primary) if line.name),
                None)
    return Found(identity.sub, name, tuple(dict.fromkeys(line.organization for line in lines)),
                 tuple(dict.fromkeys(f for line in visible for f in line.affiliations)),
                 state(identity))


def search(db: Session, q: str, *, settings: Settings, scope: HelpdeskScope,
           limit: int = 20) -> list[Found]:
    identities, _cursor = helpdesk.search(db, q, organizations=settings.organizations,
                                          scope=scope, limit=limit,
                                          snils=helpdesk.SnilsSearch.of(settings))
    precedence = settings.linking.primary_precedence
    return [found(i, scope, precedence) for i in identities]


def person(db: Session, settings: Settings, identity: Identity,
           scope: HelpdeskScope, *, event_type: str | None = None,
           before: int | None = None) -> PersonPage:
    """The whole page; its timeline of one kind of event when ``event_type`` is one the trail
    holds, from event ``before`` (exclusive) back when given."""
    precedence = settings.linking.primary_precedence
    lines = accounts(identity, scope, precedence)
    kinds = tuple(helpdesk.audit_types(db, identity, scope=scope))
    event_type = event_type if event_type in kinds else None
    events, older = helpdesk.audit_trail(db, identity, limit=TIMELINE, scope=scope,
                                         before=before, event_type=event_type)
    organizations = list(settings.organizations)
    proposals = open_proposals(db, identity)
    return PersonPage(
        identity=identity, state=state(identity), name=found(identity, scope, precedence).name,
        accounts=tuple(lines), proposals=tuple(proposals),
        access=helpdesk.redact_access(explain(db, settings, identity), scope,
                                      settings.organizations),
        consents=tuple(_consents(db, identity)), timeline=tuple(events),
        timeline_kinds=kinds, timeline_kind=event_type or "", timeline_older=older,
        details={e.id: scope.redact(e.details, organizations) for e in events},
        proposal_accounts={p.id: _visible_key(db.get_one(LinkedAccount, p.account_id), scope)
                           for p in proposals})


def _visible_key(account: LinkedAccount, scope: HelpdeskScope) -> str:
    return account_key(account) if scope.includes(account.organization) else account.organization


def open_proposals(db: Session, identity: Identity) -> list[LinkProposal]:
    return list(db.scalars(select(LinkProposal).where(
        LinkProposal.status == ProposalStatus.PENDING.value,
        or_(LinkProposal.identity_id == identity.id,
            LinkProposal.candidate_identity_id == identity.id)).order_by(LinkProposal.id)))


def proposal_parties(db: Session, proposal: LinkProposal) -> tuple[LinkedAccount, Identity, Identity]:
    """The proposal's account, its identity and the candidate identity it would join."""
    return (db.get_one(LinkedAccount, proposal.account_id),
            db.get_one(Identity, proposal.identity_id),
            db.get_one(Identity, proposal.candidate_identity_id))


def _consents(db: Session, identity: Identity) -> list[tuple[str, str, datetime]]:
    found = []
    for consent in consents_of(db, identity.id):
        client = db.get(Client, consent.client_pk)
        found.append((client.name if client else "?", consent.scope, consent.granted_at))
    return found


def organization_labels(organizations: Mapping[str, OrganizationSettings],
                        language: str) -> dict[str, str]:
    return {o.id: (o.name_ru if language == "ru" and o.name_ru else o.name)
            for o in organizations.values()}
