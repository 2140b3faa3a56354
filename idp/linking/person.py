"""Linking by the person, on "My Campus ID": whoever is logged in with one account and, in
the same action, proves again the password of that account and the password of another
university's account shows both are theirs.

Every link starts with ``reauthenticate``: the session alone, however young, never links (a
browser left logged in must not be enough). Both proofs go through the login's own
throttled, audited password check (``idp.identity.login.check_password``), the first against
the directory of the session's own account; a wrong password changes nothing but the throttle
and the audit trail. A proven account that never logged in is created on the current
identity; one with an identity of its own is merged through the helpdesk's merge engine
(``idp.linking.merge`` through ``idp.linking.actions``), the current identity surviving, so
aliases, moved sessions, consents and tokens, closed proposals, the audit event and the
Security Event Tokens to relying parties are the same whoever links. The evidence is
both accounts, the time, and method ``person``. Accepting a proposal needs the same two
proofs (the second of the account on the proposal's other side); rejecting one needs no
password. ``undo_link`` is "this was not me": an unlink through the same engine, within the
limits of ``idp.linking.history``. Every change recomputes the access grants of the
identities involved in its transaction (``idp.provisioning.grants``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from idp.directory.base import AuthStatus, DirectoryAccount, PasswordDirectory
from idp.errors import Conflict, Forbidden, NotFound
from idp.identity.login import PasswordProof, check_password, find_or_create_account
from idp.identity.throttle import LoginThrottle
from idp.linking import actions, history, merge
from idp.linking.merge import snapshot
from idp.linking.rules import Linker, link_at_login
from idp.oidc.backchannel import Signer
from idp.provisioning import grants
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import (
    Identity,
    LinkedAccount,
    PrimaryAccount,
    account_key,
    find_account,
)
from idp.storage.linking import LinkProposal, ProposalStatus

METHOD = "person"
LINK_REASON = "The person proved the passwords of both accounts on My Campus ID."
ACCEPT_REASON = "The person accepted the proposal on My Campus ID and proved both passwords."
REJECT_REASON = "The person rejected the proposal on My Campus ID."
UNDO_REASON = "The person said on My Campus ID that this link was not their doing."


def evidence(session_account: LinkedAccount, proven: DirectoryAccount) -> dict[str, Any]:
    return {"method": METHOD, "accounts": [account_key(session_account),
                                           f"{proven.organization}:{proven.username}"],
            "proved_at": utcnow().isoformat()}


def reauthenticate(db: Session, directory: PasswordDirectory | None,
                   session_account: LinkedAccount, password: str, *, ip: str | None,
                   throttle: LoginThrottle) -> PasswordProof:
    """The fresh proof every link starts with: the password of the account the session was
    opened with, checked like a login against that account's own directory. Anything but
    that very directory entry (no password, a wrong one, throttled, another entry answering
    to the username) is audited as ``link.reauth_failed`` and changes nothing else. Raises
    ``DirectoryUnavailable``."""
    proof = PasswordProof(AuthStatus.INVALID_CREDENTIALS)
    if password and directory is not None:
        proof = check_password(db, directory, session_account.username, password, ip=ip,
                               throttle=throttle)
    if proof.found is not None and proof.found.external_id == session_account.external_id:
        return proof
    audit.record(db, AuditEventType.LINK_REAUTH_FAILED, actor=account_key(session_account),
                 identity_id=session_account.identity_id,
                 organization=session_account.organization, ip=ip,
                 reason=_reauth_failure(password, directory, proof))
    if proof.found is not None:
        return PasswordProof(AuthStatus.INVALID_CREDENTIALS)
    return proof


def _reauth_failure(password: str, directory: PasswordDirectory | None, proof: PasswordProof) -> str:
    if not password:
        return "no password"
    if directory is None:
        return "organization not configured"
    if proof.found is not None:
        return "another entry"
    return "throttled" if proof.retry_after_s is not None else proof.status.value


def link_proven_account(db: Session, identity: Identity, session_account: LinkedAccount,
                        proven: DirectoryAccount, *, linker: Linker | None, ip: str | None,
                        signer: Signer, settings: Settings) -> list[int]:
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
        grants.recompute(db, settings, [identity], actor=actor, reason=LINK_REASON)
        return []  # no sub changed: nobody to tell
    if account.identity_id == identity.id:
        raise Conflict("already linked", public=f"{account_key(account)} is already linked here.")
    _outcome, queued = actions.link(db, signer, identity, account, reason=LINK_REASON,
                                    actor=actor, settings=settings, evidence=proof)
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
                    settings: Settings) -> list[int]:
    """Approve ``proposal`` when the proven account belongs to its other identity; returns
    the Security Event Tokens queued for the merge."""
    account = find_account(db, proven.organization, proven.external_id)
    if account is None or account.identity_id != other_side(proposal, identity.id):
        raise Conflict("proof of another account",
                       public="That account is not the one this proposal is about.")
    _outcome, queued = actions.approve(
        db, signer, proposal, reason=ACCEPT_REASON, actor=account_key(session_account),
        settings=settings, evidence={"decided_by": METHOD, **evidence(session_account, proven)})
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


def undo_link(db: Session, signer: Signer, identity: Identity, session_account: LinkedAccount,
              account_id: int, *, ip: str | None, settings: Settings) -> tuple[Identity, list[int]]:
    """"This was not me": push the account out of ``identity`` onto a new identity of its own,
    as an unlink does (``actions.unlink``: new ``sub``, its sessions follow it, relying parties
    told), with ``method: person`` evidence. Raises ``NotFound`` for an account not on the
    identity and ``Forbidden`` (audited as ``link.undo_refused``; commit it) for a link
    ``idp.linking.history.may_undo`` does not allow. Returns the new identity and the
    queued Security Event Tokens."""
    now = utcnow()
    arrival = next((a for a in history.arrivals(db, identity) if a.account.id == account_id), None)
    if arrival is None:
        raise NotFound(f"account {account_id}", public="This account is not linked to you.")
    actor = account_key(session_account)
    if not history.may_undo(arrival, session_account, now):
        why = history.refusal(arrival, session_account, now)
        audit.record(db, AuditEventType.LINK_UNDO_REFUSED, actor=actor, identity_id=identity.id,
                     organization=arrival.account.organization, ip=ip,
                     account=account_key(arrival.account), reason=why)
        raise Forbidden(why, public="This link cannot be undone here.")
    return actions.unlink(db, signer, identity, arrival.account, reason=UNDO_REASON, actor=actor,
                          settings=settings, ip=ip,
                          evidence={"method": METHOD, "undone": "not_me", "how": arrival.how.value,
                                    "rule": arrival.rule, "linked_by": arrival.by,
                                    "linked_at": arrival.at.isoformat()})
