"""The review queue of the helpdesk console: open link proposals, oldest first, a page at a
time, each with its evidence and its two parties as the staff member's scope may read them, and
who may decide it.

Evidence is what the database knows: the rule and the claims it compares, why the login
proposed instead of linking, whether the two sides' fingerprints under that rule still match
today, and the names as each side's directory gives them. A SNILS or a birth date is never kept
in clear (only its keyed fingerprint, ``idp.linking.fingerprints``), so it shows as a mask:
nobody, whatever their role, can read it here. The decisions themselves are
``idp.linking.actions.approve`` and ``reject``, as on the person's page and the API.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.identity.claims import first_value
from idp.linking import console, helpdesk
from idp.linking.console import AccountLine
from idp.linking.helpdesk import HelpdeskScope
from idp.linking.merge import current_identity
from idp.settings import MatchClaim, Settings
from idp.storage.identities import Identity, LinkedAccount, account_key
from idp.storage.linking import LinkProposal, MatchFingerprint, ProposalStatus

PAGE = 50
# Linking identifiers are never stored in clear: what the queue shows in their place.
MASKS = {MatchClaim.SNILS: "***-***-*** **", MatchClaim.BIRTHDATE: "**.**.****"}
HIDDEN = "—"  # a value of another organization's account, for a scoped helpdesk


@dataclass(frozen=True)
class Evidence:
    """One claim the rule compares: this side's value and the matching side's, as shown."""

    claim: str
    ours: str
    theirs: str
    masked: bool


@dataclass(frozen=True)
class Party:
    """One identity of a proposal: its ``sub`` when the scope may open its page ("" when
    not), and its accounts (another organization's as the organization alone)."""

    sub: str
    accounts: tuple[AccountLine, ...]


@dataclass(frozen=True)
class Row:
    proposal: LinkProposal
    account: str  # the proposal's account, ``org:username`` or the organization alone
    configured: bool  # the rule is still in the configuration
    still_matches: bool  # the fingerprints under the rule are still equal today
    evidence: tuple[Evidence, ...]
    joining: Party  # the identity the account is on now
    candidate: Party  # the identity it would join
    may_approve: bool
    may_reject: bool


@dataclass(frozen=True)
class Page:
    rows: tuple[Row, ...]
    total: int  # open proposals the scope may see, on every page
    next_cursor: int | None


def open_count(db: Session, scope: HelpdeskScope) -> int:
    """The open proposals ``scope`` may see: the number beside the queue's link."""
    stmt = select(func.count()).select_from(LinkProposal).where(
        LinkProposal.status == ProposalStatus.PENDING.value, *helpdesk.proposals_seen_by(scope))
    return int(db.scalar(stmt) or 0)


def page(db: Session, settings: Settings, scope: HelpdeskScope, *, after: int = 0,
         limit: int = PAGE) -> Page:
    """``limit`` open proposals after id ``after``, oldest first (the API's listing)."""
    found, cursor = helpdesk.proposals(db, scope, status=ProposalStatus.PENDING.value,
                                       limit=limit, after=after)
    loaded = _Loaded.of(db, found)
    return Page(tuple(_row(db, loaded, settings, scope, p) for p in found),
                open_count(db, scope), cursor)


def find_open(db: Session, scope: HelpdeskScope, proposal_id: int) -> LinkProposal | None:
    """The open proposal the scope may see; None for one decided, missing or out of scope
    (the same answer, so the queue never tells that another organization's exists)."""
    if not 0 < proposal_id <= helpdesk.MAX_ID:
        return None
    return db.scalar(select(LinkProposal).where(
        LinkProposal.id == proposal_id, LinkProposal.status == ProposalStatus.PENDING.value,
        *helpdesk.proposals_seen_by(scope)))


def involved(db: Session, proposal: LinkProposal) -> list[Identity]:
    """Every identity a decision touches as things stand: the account's identity today, and
    whoever answers for the proposal's two identities (an earlier merge may have moved them)."""
    account = db.get_one(LinkedAccount, proposal.account_id)
    found = [account.identity, *(current_identity(db, db.get_one(Identity, i))
                                 for i in (proposal.identity_id, proposal.candidate_identity_id))]
    return list({i.id: i for i in found}.values())


def may_decide(scope: HelpdeskScope, identities: list[Identity], decision: str) -> bool:
    """As on the person's page and the API: approving merges, so every account of every
    identity involved must be the scope's; rejecting changes only the queue, so one identity
    with an account of the scope is enough."""
    if decision == "approve":
        return all(scope.covers(i) and scope.owns(i) for i in identities)
    return any(scope.covers(i) for i in identities)


def _row(db: Session, loaded: _Loaded, settings: Settings, scope: HelpdeskScope,
         proposal: LinkProposal) -> Row:
    account = loaded.accounts[proposal.account_id]
    joining = account.identity
    candidate = current_identity(db, loaded.identities[proposal.candidate_identity_id])
    matched = loaded.matched(proposal.rule, account, candidate)
    rule = settings.linking.rules.get(proposal.rule)
    claims = tuple(rule.match) if rule is not None else ()
    identities = involved(db, proposal)
    precedence = settings.linking.primary_precedence
    return Row(
        proposal=proposal,
        account=account_key(account) if scope.includes(account.organization)
        else account.organization,
        configured=rule is not None, still_matches=bool(matched),
        evidence=tuple(_evidence(c, account, matched or candidate.accounts, scope)
                       for c in claims),
        joining=_party(joining, scope, precedence), candidate=_party(candidate, scope, precedence),
        may_approve=may_decide(scope, identities, "approve"),
        may_reject=may_decide(scope, identities, "reject"))


def _party(identity: Identity, scope: HelpdeskScope, precedence: tuple[str, ...]) -> Party:
    return Party(identity.sub if scope.covers(identity) else "",
                 tuple(console.accounts(identity, scope, precedence)))


def _evidence(claim: MatchClaim, account: LinkedAccount, others: list[LinkedAccount],
              scope: HelpdeskScope) -> Evidence:
    if claim in MASKS:
        return Evidence(claim.value, MASKS[claim], MASKS[claim], True)
    theirs = [_value(a, claim, scope) for a in others]
    return Evidence(claim.value, _value(account, claim, scope),
                    ", ".join(dict.fromkeys(theirs)) or HIDDEN, False)


def _value(account: LinkedAccount, claim: MatchClaim, scope: HelpdeskScope) -> str:
    if not scope.includes(account.organization):
        return HIDDEN
    return first_value(account.attributes or {}, claim.value) or HIDDEN


@dataclass(frozen=True)
class _Loaded:
    """A page's accounts, identities (with their accounts) and fingerprints, read in three
    statements and held while the rows are made, so that a page of 50 is not 300 round trips."""

    accounts: dict[int, LinkedAccount]
    identities: dict[int, Identity]
    hashes: dict[tuple[int, str], str]  # (account id, rule): fingerprint

    @classmethod
    def of(cls, db: Session, proposals: list[LinkProposal]) -> _Loaded:
        accounts = {a.id: a for a in db.scalars(select(LinkedAccount).where(
            LinkedAccount.id.in_(sorted({p.account_id for p in proposals}))))}
        wanted = {i for p in proposals for i in (p.identity_id, p.candidate_identity_id)}
        identities = {i.id: i for i in db.scalars(select(Identity).where(
            Identity.id.in_(sorted(wanted | {a.identity_id for a in accounts.values()}))))}
        every = {a.id for i in identities.values() for a in i.accounts} | set(accounts)
        rows = db.execute(select(MatchFingerprint.account_id, MatchFingerprint.rule,
                                 MatchFingerprint.hash).where(
            MatchFingerprint.account_id.in_(sorted(every)),
            MatchFingerprint.rule.in_(sorted({p.rule for p in proposals})),
            MatchFingerprint.hash.is_not(None)))
        return cls(accounts, identities, {(a, r): h for a, r, h in rows if h is not None})

    def matched(self, rule: str, account: LinkedAccount,
                candidate: Identity) -> list[LinkedAccount]:
        """The candidate identity's accounts whose fingerprint under ``rule`` equals the
        account's today (none when either changed since the proposal)."""
        own = self.hashes.get((account.id, rule))
        return [a for a in candidate.accounts
                if own is not None and self.hashes.get((a.id, rule)) == own]
