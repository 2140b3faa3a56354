"""Linking by the person, on "My Campus ID": whoever is logged in with one account and proves
the password of another university's account in the same session shows both are theirs.

The proof goes through the login's own throttled, audited password check
(``idp.identity.login.check_password``); a wrong password changes nothing but the throttle
and the audit trail. A proven account that never logged in is created on the current
identity; one with an identity of its own is merged through the helpdesk's merge engine
(``idp.linking.merge`` through ``idp.linking.actions``), the current identity surviving, so
aliases, moved sessions, consents and tokens, closed proposals, the audit event and the
Security Event Tokens to relying parties are the same whoever links. The evidence is
both accounts, the time, and method ``person``. Accepting a proposal needs the same proof of
the account on the proposal's other side; rejecting one needs no password.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from idp.directory.base import DirectoryAccount
from idp.errors import Conflict, NotFound
from idp.identity.login import find_or_create_account
from idp.linking import actions, merge
from idp.linking.merge import snapshot
from idp.linking.rules import Linker, link_at_login
from idp.oidc.backchannel import Signer
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import Identity, LinkedAccount, PrimaryAccount, account_key, find_account
from idp.storage.linking import LinkProposal, ProposalStatus

METHOD = "person"
LINK_REASON = "The person proved the passwords of both accounts on My Campus ID."
ACCEPT_REASON = "The person accepted the proposal on My Campus ID and proved both passwords."
REJECT_REASON = "The person rejected the proposal on My Campus ID."


def evidence(session_account: LinkedAccount, proven: DirectoryAccount) -> dict[str, Any]:
    return {"method": METHOD, "accounts": [account_key(session_account),
                                           f"{proven.organization}:{proven.username}"],
            "proved_at": utcnow().isoformat()}


def link_proven_account(db: Session, identity: Identity, session_account: LinkedAccount,
                        proven: DirectoryAccount, *, linker: Linker | None, ip: str | None,
                        signer: Signer, secret_key: str) -> list[int]:
    """Put the account whose password was just proven on ``identity``; raises ``Conflict``
    when it is already there. Returns the Security Event Tokens queued for a merge (deliver
    them after commit, ``actions.deliver_now``)."""
    proof = evidence(session_account, proven)
    actor = account_key(session_account)
    account, created = find_or_create_account(db, proven, attach_to=identity)
    if created:
        audit.record(db, AuditEventType.ACCOUNT_LINKED, actor=actor, identity_id=identity.id,
                     organization=account.organization, ip=ip, reason=LINK_REASON,
                     account=account_key(account), sub=identity.sub,
                     after=snapshot(identity), evidence=proof)
        if linker is not None:  # its fingerprints, for later matches; never moves it
            link_at_login(db, linker, account, proven, created=False)
        return []  # no sub changed: nobody to tell
    if account.identity_id == identity.id:
        raise Conflict("already linked", public=f"{account_key(account)} is already linked here.")
    _outcome, queued = actions.link(db, signer, identity, account, reason=LINK_REASON,
                                    actor=actor, secret_key=secret_key, evidence=proof)
    return queued


def proposals_about(db: Session, identity_id: int) -> list[LinkProposal]:
    """Pending proposals naming the identity on either side."""
    stmt = select(LinkProposal).where(
        LinkProposal.status == ProposalStatus.PENDING.value,
        or_(LinkProposal.identity_id == identity_id,
            LinkProposal.candidate_identity_id == identity_id))
    return list(db.scalars(stmt.order_by(LinkProposal.id)))


def find_proposal(db: Session, identity_id: int, proposal_id: int) -> LinkProposal:
    """A pending proposal about this identity; anything else is not found for this person."""
    for proposal in proposals_about(db, identity_id):
        if proposal.id == proposal_id:
            return proposal
    raise NotFound(f"proposal {proposal_id}", public="This proposal is not open for you.")


def other_side(proposal: LinkProposal, identity_id: int) -> int:
    if proposal.identity_id == identity_id:
        return proposal.candidate_identity_id
    return proposal.identity_id


def accept_proposal(db: Session, identity: Identity, session_account: LinkedAccount,
                    proposal: LinkProposal, proven: DirectoryAccount, *, signer: Signer,
                    secret_key: str) -> list[int]:
    """Approve ``proposal`` when the proven account belongs to its other identity; returns
    the Security Event Tokens queued for the merge."""
    account = find_account(db, proven.organization, proven.external_id)
    if account is None or account.identity_id != other_side(proposal, identity.id):
        raise Conflict("proof of another account",
                       public="That account is not the one this proposal is about.")
    _outcome, queued = actions.approve(
        db, signer, proposal, reason=ACCEPT_REASON, actor=account_key(session_account),
        secret_key=secret_key, evidence={"decided_by": METHOD, **evidence(session_account, proven)})
    return queued


def reject_proposal_by_person(db: Session, session_account: LinkedAccount,
                              proposal: LinkProposal) -> None:
    merge.reject_proposal(db, proposal, reason=REJECT_REASON, actor=account_key(session_account),
                          evidence={"decided_by": METHOD})


def choose_primary(db: Session, identity: Identity, account_id: int, *, actor: str,
                   ip: str | None) -> LinkedAccount:
    """The account single-valued claims come from, from now on (audited, before and after)."""
    chosen = next((a for a in identity.accounts if a.id == account_id), None)
    if chosen is None:
        raise NotFound(f"account {account_id}", public="This account is not linked to you.")
    previous = identity.primary_choice
    before = previous.account_id if previous is not None else None
    db.execute(delete(PrimaryAccount).where(or_(PrimaryAccount.identity_id == identity.id,
                                                PrimaryAccount.account_id == account_id)))
    db.flush()
    db.expire(identity, ["primary_choice"])
    db.add(PrimaryAccount(identity_id=identity.id, account_id=chosen.id, chosen_at=utcnow()))
    db.flush()
    before_key = next((account_key(a) for a in identity.accounts if a.id == before), None)
    audit.record(db, AuditEventType.PRIMARY_ACCOUNT_CHOSEN, actor=actor, identity_id=identity.id,
                 organization=chosen.organization, ip=ip, before=before_key,
                 after=account_key(chosen))
    return chosen
