"""Linking by rule, at login: the account's fingerprints are refreshed, then compared with
those of every other identity's accounts.

* A ``link`` rule links when exactly one other identity matches, by moving an account that
  this very login created (with an identity nobody has seen yet) onto that identity.
* Everything else is a proposal for the review queue and nothing merges: a ``propose`` rule,
  several matching identities, or two identities that both already had history (merging
  those, with aliases and notices to relying parties, is the helpdesk's and a later step's).
* A link that would join an identity holding a staff account, or move an account that holds
  a staff role, or join an identity with accounts of an organization the account's own does
  not trust (``[linking] trust``), is a proposal too: whoever can write a matching value into
  one directory must not take over another person's identity by it.
* An invalid value (a SNILS whose check number fails) matches nothing and is reported once.

Runs in the login's transaction; every link, proposal and report writes its audit event
there, with the rule as the actor and account keys as evidence, never the clear values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from idp.directory.base import DirectoryAccount
from idp.identity.claims import display_name
from idp.linking.fingerprints import (
    Evaluation,
    Fingerprint,
    Fingerprinter,
    InvalidValue,
    NoValue,
    evaluate,
)
from idp.settings import LinkAction, LinkingRule, LinkingSettings, Settings
from idp.storage import audit
from idp.storage import linking as store
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import Identity, LinkedAccount
from idp.storage.linking import LinkProposal, ProposalReason


@dataclass(frozen=True)
class Linker:
    """The configured rules (``link`` rules first), the key their fingerprints use, which
    directories trust which, and the accounts ``[roles]`` names (case-folded keys)."""

    rules: tuple[LinkingRule, ...]
    fingerprinter: Fingerprinter = field(repr=False)
    settings: LinkingSettings = field(default_factory=LinkingSettings)
    staff_accounts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> Linker:
        rules = sorted(settings.linking.rules.values(), key=lambda r: r.action is not LinkAction.LINK)
        roles = settings.roles
        staff = {a.casefold() for a in (*roles.consortium_admin, *roles.org_admin, *roles.helpdesk,
                                        *roles.org_helpdesk)}
        return cls(tuple(rules), Fingerprinter.from_secret(settings.server.secret_key),
                   settings.linking, frozenset(staff))

    def holds_staff_role(self, account: LinkedAccount) -> bool:
        """A ``[roles]`` entry, or an admin group seen at the account's last admin sign-in."""
        return account.staff_role or _key(account).casefold() in self.staff_accounts

    def refusal(self, account: LinkedAccount, target: Identity) -> ProposalReason | None:
        """Why moving ``account`` onto ``target`` by rule needs a person's review, if it does."""
        if self.holds_staff_role(account) or any(self.holds_staff_role(a) for a in target.accounts):
            return ProposalReason.STAFF_ROLE
        if not self.settings.trusts(account.organization, (a.organization for a in target.accounts)):
            return ProposalReason.UNTRUSTED
        return None


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
    linked_by, proposals = _apply_link_rules(db, linker, account, link_fps, by_rule, created=created)
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


def _apply_link_rules(db: Session, linker: Linker, account: LinkedAccount,
                      fps: Sequence[Fingerprint], by_rule: dict[str, LinkingRule], *,
                      created: bool) -> tuple[tuple[str, ...], list[int]]:
    matched = {fp.rule: store.matching_accounts(db, fp.rule, fp.digest,
                                                other_than_identity=account.identity_id)
               for fp in fps}
    identities = {a.identity_id for accounts in matched.values() for a in accounts}
    refused: ProposalReason | None = None
    if len(identities) == 1 and created:
        target = db.get_one(Identity, next(iter(identities)))
        refused = linker.refusal(account, target)
        if refused is None:
            rules = tuple(rule for rule, accounts in matched.items() if accounts)
            _move(db, account, target, rules, [a for r in rules for a in matched[r]])
            return rules, []
    reason = refused or (ProposalReason.SEVERAL_MATCHES if len(identities) > 1
                         else ProposalReason.MERGE_REQUIRED)
    proposals: list[int] = []
    for rule, accounts in matched.items():
        proposals += _propose(db, account, by_rule[rule], accounts, reason)
    return (), proposals


def _move(db: Session, account: LinkedAccount, target: Identity, rules: Sequence[str],
          matched: Sequence[LinkedAccount]) -> None:
    """Put a just-created account on the matching identity; the identity this login made for
    it goes (it never left this transaction: no token, session or consent names it). The
    event names both sides' organizations and how each side's directory names the person, so
    that a link across organizations can be checked by whoever reads the trail."""
    created = account.identity
    organizations = sorted({a.organization for a in target.accounts})
    names = {_key(a): display_name(a) for a in target.accounts}
    account.identity = target
    account.linked_at = utcnow()
    db.flush()
    db.expire(created, ["accounts"])
    db.delete(created)
    db.flush()
    audit.record(db, AuditEventType.ACCOUNT_LINKED, actor=f"rule:{rules[0]}", identity_id=target.id,
                 organization=account.organization, rules=list(rules), account=_key(account),
                 matched=sorted({_key(a) for a in matched}), sub=target.sub,
                 discarded_identity=created.sub, account_organization=account.organization,
                 identity_organizations=organizations,
                 names={_key(account): display_name(account), **names},
                 after={target.sub: sorted({*names, _key(account)})})


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
