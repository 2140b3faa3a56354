"""The changes to identities that relying parties hear of, as the API, the CLI and the
person on My Campus ID (``idp.linking.person``, with its ``evidence``) make them.

Each function is one unit of work in the caller's transaction: the merge engine's change with
its audit event (``idp.linking.merge``), the Security Event Tokens that tell relying
parties about it (``idp.oidc.events``), and the access grants of BOTH identities involved
recomputed (``idp.provisioning.grants``: a merge moves grants to the survivor and ends the
absorbed identity's, an unlink splits them), with their audit events and delivery jobs, all
queued together so that none happens without the others. It returns the queued Security
Event Token ids: the caller commits, then calls ``deliver_now`` (off the request in the web
server; a receiver that is down gets it from ``idp logout deliver`` later); grant deliveries
are the delivery worker's. ``settings`` gives the server secret (pairwise subjects of
pairwise clients) and the access policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.linking import merge
from idp.linking.merge import MergeOutcome
from idp.oidc import events
from idp.oidc.backchannel import Signer
from idp.oidc.delivery_worker import hand_off
from idp.provisioning import grants
from idp.settings.model import OutboundSettings, Settings
from idp.storage.identities import Identity, LinkedAccount
from idp.storage.linking import LinkProposal


def link(db: Session, signer: Signer, identity: Identity, account: LinkedAccount | str, *,
         reason: str, actor: str, settings: Settings,
         evidence: Mapping[str, Any] | None = None) -> tuple[MergeOutcome, list[int]]:
    outcome = merge.link_account(db, identity, account, reason=reason, actor=actor,
                                 evidence=evidence)
    _merged_access(db, settings, outcome, actor=actor, reason=reason)
    return outcome, events.queue_merge(db, signer, outcome.survivor, outcome.absorbed_sub,
                                       secret_key=settings.server.secret_key)


def unlink(db: Session, signer: Signer, identity: Identity, account: LinkedAccount | str, *,
           reason: str, actor: str, settings: Settings, evidence: Mapping[str, Any] | None = None,
           ip: str | None = None, onto: Identity | None = None) -> tuple[Identity, list[int]]:
    created = merge.unlink_account(db, identity, account, reason=reason, actor=actor,
                                   evidence=evidence, ip=ip, onto=onto)
    grants.recompute(db, settings, [identity, created], actor=actor, reason=reason)
    organization = created.accounts[0].organization
    return created, events.queue_unlink(db, signer, identity, created, organization,
                                        secret_key=settings.server.secret_key)


def approve(db: Session, signer: Signer, proposal: LinkProposal, *, reason: str, actor: str,
            settings: Settings, evidence: Mapping[str, Any] | None = None,
            ) -> tuple[MergeOutcome | None, list[int]]:
    outcome = merge.approve_proposal(db, proposal, reason=reason, actor=actor, evidence=evidence)
    if outcome is None:  # already one identity: no sub changed
        return None, []
    _merged_access(db, settings, outcome, actor=actor, reason=reason)
    return outcome, events.queue_merge(db, signer, outcome.survivor, outcome.absorbed_sub,
                                       secret_key=settings.server.secret_key)


def _merged_access(db: Session, settings: Settings, outcome: MergeOutcome, *, actor: str,
                   reason: str) -> None:
    """The survivor's grants over its accounts, old and joined; the absorbed identity's end."""
    absorbed = db.scalars(select(Identity).where(Identity.sub == outcome.absorbed_sub)).one()
    grants.recompute(db, settings, [outcome.survivor, absorbed], actor=actor, reason=reason)


def reject(db: Session, proposal: LinkProposal, *, reason: str, actor: str) -> None:
    """Only the queue changes: relying parties hear nothing."""
    merge.reject_proposal(db, proposal, reason=reason, actor=actor)


def deliver_now(db: Session, signer: Signer, queued: list[int], *,
                limits: OutboundSettings | None = None) -> None:
    """What a committed change queued: handed to the web server's background deliverer (no
    request waits for a receiver), or one attempt here under ``limits`` on the command line;
    failures wait for the next ``idp logout deliver``."""
    hand_off(db, signer, queued, limits)
