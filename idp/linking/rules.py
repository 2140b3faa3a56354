"""Linking by rule, at login: the account's fingerprints are refreshed, then compared with
those of every other identity's accounts.

* A ``link`` rule links when exactly one other identity matches, by moving an account that
  this very login created (with an identity nobody has seen yet) onto that identity.
* Everything else is a proposal for the review queue and nothing merges: a ``propose`` rule,
  several matching identities, or two identities that both already had history (merging
  those, with aliases and notices to relying parties, is the helpdesk's and a later step's).
* An invalid value (a SNILS whose check number fails) matches nothing and is reported once.

Runs in the login's transaction; every link, proposal and report writes its audit event
there, with the rule as the actor and account keys as evidence, never the clear values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from idp.directory.base import DirectoryAccount
from idp.linking.fingerprints import (
    Evaluation,
    Fingerprint,
    Fingerprinter,
    InvalidValue,
    NoValue,
    evaluate,
)
from idp.settings import LinkAction, LinkingRule, Settings
from idp.storage import audit
from idp.storage import linking as store
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import Identity, LinkedAccount
from idp.storage.linking import LinkProposal, ProposalReason


@dataclass(frozen=True)
class Linker:
    """The configured rules (``link`` rules first) and the key their fingerprints use."""

    rules: tuple[LinkingRule, ...]
    fingerprinter: Fingerprinter = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Linker:
        rules = sorted(settings.linking.rules.values(), key=lambda r: r.action is not LinkAction.LINK)
        return cls(tuple(rules), Fingerprinter.from_secret(settings.server.secret_key))


@dataclass(frozen=True)
class LinkingOutcome:
    linked_by: tuple[str, ...] = ()  # the rules that moved the account onto another identity
    proposals: tuple[int, ...] = ()
    invalid: tuple[InvalidValue, ...] = ()


def link_at_login(db: Session, linker: Linker, account: LinkedAccount, found: DirectoryAccount,
                  *, created: bool) -> LinkingOutcome:
    """Apply the rules to an account that just logged in; ``created`` says this login created
    the account and its identity (so moving it hides nothing from anyone)."""
    if not linker.rules:
        return LinkingOutcome()
    evaluations = [evaluate(rule, found.attributes, linker.fingerprinter) for rule in linker.rules]
    if not created and store.settled(db, account, _expected(evaluations)):
        return LinkingOutcome()  # the usual login: nothing changed, nothing matches
    fingerprints = [e for e in evaluations if isinstance(e, Fingerprint)]
    store.lock_match_keys(db, [f.digest for f in fingerprints])
    invalid = _store_fingerprints(db, account, evaluations, created=created)
    by_rule = {rule.name: rule for rule in linker.rules}
    link_fps = [f for f in fingerprints if by_rule[f.rule].action is LinkAction.LINK]
    linked_by, proposals = _apply_link_rules(db, account, link_fps, by_rule, created=created)
    for fp in fingerprints:
        if by_rule[fp.rule].action is LinkAction.PROPOSE:
            matches = store.matching_accounts(db, fp.rule, fp.digest,
                                              other_than_identity=account.identity_id)
            proposals += _propose(db, account, by_rule[fp.rule], matches, ProposalReason.PROPOSE_RULE)
    return LinkingOutcome(linked_by, tuple(proposals), tuple(invalid))


def _expected(evaluations: Sequence[Evaluation]) -> dict[str, str | None]:
    """The rows ``_store_fingerprints`` would leave: rule to hash, None for an invalid value."""
    return {e.rule: e.digest if isinstance(e, Fingerprint) else None
            for e in evaluations if not isinstance(e, NoValue)}


def _store_fingerprints(db: Session, account: LinkedAccount, evaluations: Sequence[Evaluation],
                        *, created: bool) -> list[InvalidValue]:
    """Bring the account's rows in step with this login; report values newly found invalid."""
    # An account this transaction created has no rows yet: nothing to read.
    existing = {} if created else store.fingerprints_of(db, account.id)
    reported = []
    for e in evaluations:
        row = existing.pop(e.rule, None)
        if isinstance(e, NoValue):
            if row is not None:
                db.delete(row)
        elif isinstance(e, InvalidValue):
            if row is None or row.hash is not None:
                reported.append(e)
                audit.record(db, AuditEventType.LINK_VALUE_INVALID, actor=f"rule:{e.rule}",
                             identity_id=account.identity_id, organization=account.organization,
                             rule=e.rule, claim=e.claim, reason=e.reason, account=_key(account))
            store.set_fingerprint(db, row, account.id, e.rule, None)
        else:
            store.set_fingerprint(db, row, account.id, e.rule, e.digest)
    for stale in existing.values():  # rules no longer configured
        db.delete(stale)
    db.flush()
    return reported


def _apply_link_rules(db: Session, account: LinkedAccount, fps: Sequence[Fingerprint],
                      by_rule: dict[str, LinkingRule], *, created: bool) -> tuple[tuple[str, ...], list[int]]:
    matched = {fp.rule: store.matching_accounts(db, fp.rule, fp.digest,
                                                other_than_identity=account.identity_id)
               for fp in fps}
    identities = {a.identity_id for accounts in matched.values() for a in accounts}
    if len(identities) == 1 and created:
        rules = tuple(rule for rule, accounts in matched.items() if accounts)
        _move(db, account, identities.pop(), rules, [a for r in rules for a in matched[r]])
        return rules, []
    reason = ProposalReason.SEVERAL_MATCHES if len(identities) > 1 else ProposalReason.MERGE_REQUIRED
    proposals: list[int] = []
    for rule, accounts in matched.items():
        proposals += _propose(db, account, by_rule[rule], accounts, reason)
    return (), proposals


def _move(db: Session, account: LinkedAccount, target_id: int, rules: Sequence[str],
          matched: Sequence[LinkedAccount]) -> None:
    """Put a just-created account on the matching identity; the identity this login made for
    it goes (it never left this transaction: no token, session or consent names it)."""
    created = account.identity
    target = db.get_one(Identity, target_id)
    account.identity = target
    account.linked_at = utcnow()
    db.flush()
    db.expire(created, ["accounts"])
    db.delete(created)
    db.flush()
    audit.record(db, AuditEventType.ACCOUNT_LINKED, actor=f"rule:{rules[0]}", identity_id=target.id,
                 organization=account.organization, rules=list(rules), account=_key(account),
                 matched=sorted({_key(a) for a in matched}), sub=target.sub,
                 discarded_identity=created.sub)


def _propose(db: Session, account: LinkedAccount, rule: LinkingRule,
             matches: Sequence[LinkedAccount], reason: ProposalReason) -> list[int]:
    """One pending proposal per other identity, unless the queue already has that pair."""
    created = []
    for identity_id in dict.fromkeys(a.identity_id for a in matches):
        if store.pending_proposal_exists(db, rule.name, account.identity_id, identity_id):
            continue
        proposal = LinkProposal(rule=rule.name, reason=reason.value, account_id=account.id,
                                identity_id=account.identity_id, candidate_identity_id=identity_id)
        db.add(proposal)
        db.flush()
        created.append(proposal.id)
        audit.record(db, AuditEventType.LINK_PROPOSED, actor=f"rule:{rule.name}",
                     identity_id=account.identity_id, organization=account.organization,
                     proposal_id=proposal.id, rule=rule.name, reason=reason.value,
                     account=_key(account),
                     matched=sorted(_key(a) for a in matches if a.identity_id == identity_id))
    return created


def _key(account: LinkedAccount) -> str:
    return f"{account.organization}:{account.username}"
