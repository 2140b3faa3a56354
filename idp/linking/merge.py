"""Merge, unlink and proposal decisions: the changes a helpdesk makes to campus identities.

Each function is one unit of work in the caller's transaction and writes exactly one audit
event there (actor, reason, before, after, evidence). Invariants kept:

* every account belongs to exactly one identity: accounts only ever move, never copy;
* a ``sub`` is never reused: a merge keeps the survivor's ``sub`` and turns the absorbed one
  into an alias (``identity_aliases``, unique) that resolves to the survivor; an unlink makes
  a new identity whose ``sub`` is neither an identity's nor an alias's;
* an identity never loses its last account: unlinking it is a conflict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from idp.errors import Conflict, InvalidInput, NotFound
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.grants import Consent
from idp.storage.identities import (
    MERGED,
    Identity,
    IdentityAlias,
    LinkedAccount,
    account_key,
    new_identity,
)
from idp.storage.linking import LinkProposal, ProposalStatus
from idp.storage.refresh_tokens import RefreshToken, revoke_family
from idp.storage.sessions import LoginSession
from idp.storage.tokens import AccessToken, AuthorizationCode

MAX_REASON = 500
_ACCOUNT_KEY = re.compile(r"^([a-z0-9_-]{1,32}):(\S{1,256})$")


@dataclass(frozen=True)
class MergeOutcome:
    survivor: Identity
    absorbed_sub: str
    closed_proposals: tuple[int, ...]


def check_reason(reason: Any) -> str:
    """A decision about a person always says why: a non-empty text of 500 characters at most."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("no reason", public="A reason is required.")
    if len(reason) > MAX_REASON:
        raise InvalidInput("reason too long", public=f"The reason is longer than {MAX_REASON} characters.")
    return reason.strip()


def parse_account_key(key: Any) -> tuple[str, str]:
    """``tsu:petrov`` → (organization, username); anything else is invalid input."""
    match = _ACCOUNT_KEY.match(key) if isinstance(key, str) else None
    if match is None:
        raise InvalidInput(f"account key {key!r}",
                           public="An account is written organization:username, e.g. tsu:petrov.")
    return match.group(1), match.group(2)


def find_account_by_key(db: Session, key: Any) -> LinkedAccount:
    organization, username = parse_account_key(key)
    stmt = select(LinkedAccount).where(LinkedAccount.organization == organization,
                                       LinkedAccount.username == username)
    found = list(db.scalars(stmt.limit(2)))
    if not found:
        raise NotFound(f"account {key}", public=f"No account {key} has logged in yet.")
    if len(found) > 1:
        raise Conflict(f"two accounts named {key}", public=f"Several accounts are named {key}.")
    return found[0]


def link_account(db: Session, identity: Identity, account: LinkedAccount | str, *, reason: str,
                 actor: str, evidence: Mapping[str, Any] | None = None) -> MergeOutcome:
    """Put ``account`` on ``identity``: its own identity, with every other account it has, is
    merged into ``identity``, which survives and keeps its ``sub``. ``evidence`` (a person's
    proof of both passwords, ``idp.linking.person``) replaces the helpdesk's method."""
    reason = check_reason(reason)
    if not isinstance(account, LinkedAccount):
        account = find_account_by_key(db, account)
    _lock(db, identity, account)
    _check_active(identity)
    absorbed = account.identity
    if absorbed.id == identity.id:
        raise Conflict("already linked", public=f"{account_key(account)} is already linked here.")
    before = snapshot(identity, absorbed)
    closed = _merge(db, identity, absorbed)
    audit.record(db, AuditEventType.IDENTITY_MERGED, actor=actor, identity_id=identity.id,
                 organization=account.organization, reason=reason, account=account_key(account),
                 sub=identity.sub, absorbed_sub=absorbed.sub, absorbed_identity_id=absorbed.id,
                 before=before, after=snapshot(identity),
                 evidence={"method": "helpdesk", "account": account_key(account),
                           "closed_proposals": list(closed), **(evidence or {})})
    return MergeOutcome(identity, absorbed.sub, closed)


def unlink_account(db: Session, identity: Identity, account: LinkedAccount | str, *, reason: str,
                   actor: str, evidence: Mapping[str, Any] | None = None,
                   ip: str | None = None, onto: Identity | None = None) -> Identity:
    """Move ``account`` off ``identity`` onto a new identity (new ``sub`` and ``campus_id``);
    the login sessions it opened follow it, and the tokens relying parties got through those
    sessions (they carry the old ``sub`` and the old identity's claims) are revoked. The old
    identity keeps its ``sub``. ``evidence`` (a person undoing a link,
    ``idp.linking.person``) replaces the helpdesk's method. ``onto``: the identity an
    unlink of the same split made a moment earlier in this transaction (``idp.linking.split``),
    which the account joins instead of a new one; never an identity anyone has seen."""
    reason = check_reason(reason)
    if not isinstance(account, LinkedAccount):
        account = find_account_by_key(db, account)
    _lock(db, identity, account)
    _check_active(identity)
    if account.identity_id != identity.id:
        raise NotFound("account of another identity",
                       public=f"{account_key(account)} is not linked to this identity.")
    if len(identity.accounts) <= 1:
        raise Conflict("last account", public="An identity's last account cannot be unlinked.")
    before = snapshot(identity)
    if onto is not None:
        _check_active(onto)
        created = onto
    else:
        created = new_identity(db)
    db.flush()
    account.identity = created
    account.linked_at = utcnow()
    db.execute(update(LoginSession).where(LoginSession.account_id == account.id)
               .values(identity_id=created.id))
    refresh, access = end_tokens_of_sessions(db, account)
    db.flush()
    audit.record(db, AuditEventType.ACCOUNT_UNLINKED, actor=actor, identity_id=identity.id,
                 organization=account.organization, reason=reason, account=account_key(account),
                 sub=identity.sub, new_sub=created.sub, new_identity_id=created.id,
                 new_campus_id=created.campus_id, before=before, ip=ip,
                 revoked_refresh_tokens=refresh, revoked_access_tokens=access,
                 after=snapshot(identity, created), evidence={"method": "helpdesk", **(evidence or {})})
    return created


def end_tokens_of_sessions(db: Session, account: LinkedAccount) -> tuple[int, int]:
    """Revoke the refresh token families, access tokens and unused codes issued through the
    login sessions of ``account``; returns how many refresh and access tokens."""
    sessions = select(LoginSession.id).where(LoginSession.account_id == account.id)
    codes = select(AuthorizationCode.id).where(AuthorizationCode.login_session_id.in_(sessions))
    families = db.scalars(select(RefreshToken.family_id)
                          .where(RefreshToken.code_id.in_(codes)).distinct()).all()
    refresh = access = 0
    for family in families:
        r, a = revoke_family(db, family)
        refresh, access = refresh + r, access + a
    now = utcnow()
    result = db.execute(update(AccessToken).where(AccessToken.code_id.in_(codes),
                                                  AccessToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    db.execute(update(AuthorizationCode).where(AuthorizationCode.login_session_id.in_(sessions),
                                               AuthorizationCode.used_at.is_(None))
               .values(used_at=now))
    return refresh, access + int(result.rowcount)  # type: ignore[attr-defined]


def approve_proposal(db: Session, proposal: LinkProposal, *, reason: str, actor: str,
                     evidence: Mapping[str, Any] | None = None) -> MergeOutcome | None:
    """Merge the proposal's account's identity into the candidate identity (None when an
    earlier merge already joined them)."""
    reason = check_reason(reason)
    _check_pending(proposal)
    account = db.get_one(LinkedAccount, proposal.account_id)
    survivor = current_identity(db, db.get_one(Identity, proposal.candidate_identity_id))
    _lock(db, survivor, account)
    db.refresh(proposal)
    _check_pending(proposal)
    _check_active(survivor)
    absorbed = account.identity
    before = snapshot(survivor, absorbed)
    outcome = None
    if absorbed.id != survivor.id:
        closed = _merge(db, survivor, absorbed)
        outcome = MergeOutcome(survivor, absorbed.sub, closed)
    _decide(proposal, ProposalStatus.APPROVED)
    audit.record(db, AuditEventType.LINK_APPROVED, actor=actor, identity_id=survivor.id,
                 organization=account.organization, reason=reason, proposal_id=proposal.id,
                 rule=proposal.rule, account=account_key(account), sub=survivor.sub,
                 absorbed_sub=absorbed.sub if outcome else None,
                 absorbed_identity_id=absorbed.id if outcome else None,
                 before=before, after=snapshot(survivor),
                 evidence={"method": "proposal", "rule": proposal.rule,
                           "proposal_reason": proposal.reason, **(evidence or {})})
    return outcome


def reject_proposal(db: Session, proposal: LinkProposal, *, reason: str, actor: str,
                    evidence: Mapping[str, Any] | None = None) -> None:
    reason = check_reason(reason)
    db.refresh(proposal, with_for_update=True)
    _check_pending(proposal)
    _decide(proposal, ProposalStatus.REJECTED)
    account = db.get_one(LinkedAccount, proposal.account_id)
    audit.record(db, AuditEventType.LINK_REJECTED, actor=actor, identity_id=proposal.identity_id,
                 organization=account.organization, reason=reason, proposal_id=proposal.id,
                 rule=proposal.rule, account=account_key(account),
                 candidate_identity_id=proposal.candidate_identity_id,
                 evidence={"method": "proposal", "rule": proposal.rule, **(evidence or {})})


def current_identity(db: Session, identity: Identity) -> Identity:
    """The identity that answers for ``identity`` today (itself, or whoever absorbed it)."""
    seen = set()
    while identity.merged_into_id is not None and identity.id not in seen:
        seen.add(identity.id)
        identity = db.get_one(Identity, identity.merged_into_id)
    return identity


def snapshot(*identities: Identity) -> dict[str, list[str]]:
    """Which accounts each identity has, by ``sub``: the before and after of an event."""
    return {i.sub: sorted(account_key(a) for a in i.accounts) for i in identities}


def _lock(db: Session, identity: Identity, account: LinkedAccount) -> None:
    """Serialise changes to the identities involved, then re-read them: two helpdesks merging
    A into B and B into A at once, or unlinking an identity's last two accounts at once, must
    not both succeed. Row locks in id order on PostgreSQL (no deadlock); SQLite transactions
    already run one at a time (BEGIN IMMEDIATE). Raises ``Conflict`` when the account moved
    to a third identity meanwhile."""
    involved = sorted({identity.id, account.identity_id})
    db.execute(select(Identity.id).where(Identity.id.in_(involved))
               .order_by(Identity.id).with_for_update())
    db.refresh(account)
    for locked in (identity, account.identity):
        db.refresh(locked)
        db.refresh(locked, ["accounts"])
    if account.identity_id not in involved:
        raise Conflict("account moved meanwhile", public="The account changed meanwhile; try again.")


def _merge(db: Session, survivor: Identity, absorbed: Identity) -> tuple[int, ...]:
    """Everything of ``absorbed`` moves to ``survivor``; its sub becomes an alias."""
    _check_active(absorbed)
    now = utcnow()
    for account in list(absorbed.accounts):
        account.identity = survivor
        account.linked_at = now
    _merge_consents(db, survivor, absorbed)
    for model in (LoginSession, RefreshToken, AccessToken, AuthorizationCode):
        db.execute(update(model).where(model.identity_id == absorbed.id)
                   .values(identity_id=survivor.id))
    db.execute(update(IdentityAlias).where(IdentityAlias.identity_id == absorbed.id)
               .values(identity_id=survivor.id))
    db.add(IdentityAlias(sub=absorbed.sub, identity_id=survivor.id))
    absorbed.status = MERGED
    absorbed.merged_into_id = survivor.id
    closed = _repoint_proposals(db, survivor, absorbed, now)
    db.flush()
    return closed


def _merge_consents(db: Session, survivor: Identity, absorbed: Identity) -> None:
    """One consent per client: the survivor's holds the union of both."""
    mine = {c.client_pk: c for c in db.scalars(select(Consent).where(Consent.identity_id == survivor.id))}
    for consent in db.scalars(select(Consent).where(Consent.identity_id == absorbed.id)):
        kept = mine.get(consent.client_pk)
        if kept is None:
            consent.identity_id = survivor.id
        else:
            kept.scope = " ".join(sorted(set(kept.scope.split()) | set(consent.scope.split())))
            if kept.claims is not None or consent.claims is not None:  # the claims listed to either
                kept.claims = sorted(set(kept.claims or ()) | set(consent.claims or ()))
            db.delete(consent)
    db.flush()


def _repoint_proposals(db: Session, survivor: Identity, absorbed: Identity, now: Any) -> tuple[int, ...]:
    """Pending proposals naming the absorbed identity now name the survivor; those between
    the two are closed as approved, since the merge just did what they proposed."""
    stmt = select(LinkProposal).where(
        LinkProposal.status == ProposalStatus.PENDING.value,
        or_(LinkProposal.identity_id == absorbed.id, LinkProposal.candidate_identity_id == absorbed.id),
    )
    closed = []
    for proposal in db.scalars(stmt):
        if proposal.identity_id == absorbed.id:
            proposal.identity_id = survivor.id
        if proposal.candidate_identity_id == absorbed.id:
            proposal.candidate_identity_id = survivor.id
        if proposal.identity_id == proposal.candidate_identity_id:
            proposal.status = ProposalStatus.APPROVED.value
            proposal.decided_at = now
            closed.append(proposal.id)
    return tuple(sorted(closed))


def _decide(proposal: LinkProposal, status: ProposalStatus) -> None:
    proposal.status = status.value
    proposal.decided_at = utcnow()


def _check_pending(proposal: LinkProposal) -> None:
    if proposal.status != ProposalStatus.PENDING.value:
        raise Conflict("proposal decided", public=f"Proposal {proposal.id} is already {proposal.status}.")


def _check_active(identity: Identity) -> None:
    if identity.status == MERGED:
        raise Conflict("merged identity", public="This identity was merged into another one.")
