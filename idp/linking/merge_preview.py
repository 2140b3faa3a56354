"""What merging one identity into another would do, side by side, before it happens; reads
only. The rules are ``idp.linking.merge``'s: the identity named first survives and keeps its
``sub`` and ``campus_id``; the other's ``sub`` becomes an alias that resolves to the survivor,
its accounts, consents (one per client, scopes joined), sessions and tokens move over, its
card is retired, and its access ends while the survivor's is recomputed over every account
(``idp.provisioning``); the relying parties with an event delivery address that met either
identity are told (``idp.oidc.events``). Accounts of organizations outside the helpdesk's
scope appear as their organization alone (``idp.linking.console``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.identity.claims import primary_account
from idp.linking.console import AccountLine, accounts, open_proposals
from idp.linking.helpdesk import HelpdeskScope
from idp.oidc.events import receivers
from idp.provisioning import grants
from idp.provisioning.policies import entitled
from idp.settings.model import Settings
from idp.storage.base import utcnow
from idp.storage.cards import CardState, current_card
from idp.storage.clients import Client
from idp.storage.grants import consents_of
from idp.storage.identities import Identity, LinkedAccount, account_key
from idp.storage.provisioning import GrantState


@dataclass(frozen=True)
class Side:
    """One identity as it is now."""

    identity: Identity
    accounts: tuple[AccountLine, ...]
    consents: tuple[str, ...]  # client names
    access: tuple[str, ...]  # resources held (active or in grace)
    card: bool  # holds an active campus card


@dataclass(frozen=True)
class MergePreview:
    survivor: Side
    absorbed: Side
    accounts: tuple[AccountLine, ...]  # the survivor's after the merge
    primary: str  # the primary account after, as the helpdesk may see it
    consents: tuple[str, ...]
    access: tuple[str, ...]  # resources the survivor will hold
    told: tuple[str, ...]  # relying parties told of the merge
    connectors: tuple[str, ...]  # connectors told of the access that changes
    closed_proposals: tuple[int, ...]  # pending proposals between the two, closed by it


def preview(db: Session, settings: Settings, survivor: Identity, absorbed: Identity,
            scope: HelpdeskScope) -> MergePreview:
    precedence = settings.linking.primary_precedence
    mine, theirs = _side(db, survivor, scope, precedence), _side(db, absorbed, scope, precedence)
    joined = [*survivor.accounts, *absorbed.accounts]
    primary = _primary_after(survivor, absorbed, precedence)
    lines = [*mine.accounts, *theirs.accounts]
    wanted = {} if survivor.locked_at is not None else entitled(
        settings.access, [*grants.account_facts(settings, survivor),
                          *grants.account_facts(settings, absorbed)], utcnow().date())
    between = {p.id for p in open_proposals(db, survivor)} & {
        p.id for p in open_proposals(db, absorbed)}
    return MergePreview(
        survivor=mine, absorbed=theirs,
        accounts=tuple(sorted(lines, key=lambda a: (a.hidden, a.key))),
        primary=(account_key(primary) if scope.includes(primary.organization)
                 else primary.organization) if joined else "",
        consents=tuple(sorted(set(mine.consents) | set(theirs.consents))),
        access=tuple(sorted(wanted)),
        told=tuple(c.name for c in receivers(db, [survivor.id, absorbed.id])),
        connectors=_connectors(settings, mine, theirs, set(wanted)),
        closed_proposals=tuple(sorted(between)))


def _side(db: Session, identity: Identity, scope: HelpdeskScope,
          precedence: tuple[str, ...]) -> Side:
    held = grants.grants_of(db, [identity.id])[identity.id]
    card = current_card(db, identity.id)
    names = []
    for consent in consents_of(db, identity.id):
        client = db.get(Client, consent.client_pk)
        names.append(client.name if client else "?")
    return Side(identity, tuple(accounts(identity, scope, precedence)), tuple(sorted(names)),
                tuple(sorted(r for r, g in held.items() if g.state != GrantState.ENDED.value)),
                card is not None and card.state == CardState.ACTIVE.value)


def _connectors(settings: Settings, mine: Side, theirs: Side, wanted: set[str]) -> tuple[str, ...]:
    """Of every resource whose grant changes (the joining identity's end; the survivor's
    start or end), the connectors configured to hear of it."""
    changing = set(theirs.access) | (wanted ^ set(mine.access))
    return tuple(sorted({name for r in changing if (res := settings.access.resources.get(r))
                         for name in res.connectors}))


def _primary_after(survivor: Identity, absorbed: Identity,
                   precedence: tuple[str, ...]) -> LinkedAccount:
    """The survivor's chosen primary account stays; without one, ``primary_account``'s order
    over every account, the absorbed ones counted as linked now (the merge links them)."""
    if survivor.accounts and survivor.primary_choice is not None:
        chosen = primary_account(survivor, precedence)
        if chosen.id == survivor.primary_choice.account_id:
            return chosen
    rank = {org: i for i, org in enumerate(precedence)}
    now = utcnow()
    ordered = [(rank.get(a.organization, len(rank)), a.linked_at, a.id, a)
               for a in survivor.accounts]
    ordered += [(rank.get(a.organization, len(rank)), now, a.id, a) for a in absorbed.accounts]
    return min(ordered, key=lambda t: t[:3])[3]
