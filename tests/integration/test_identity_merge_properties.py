"""Random sequences of links (merges), unlinks and proposal decisions keep the invariants of
campus identities, checked after every step against a model that only knows which accounts
belong together and which sub answers for which group (SQLite in memory); and replaying the
audit trail alone (``idp.linking.replay``) rebuilds the database's memberships and aliases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.directory.base import DirectoryAccount
from idp.errors import Conflict
from idp.identity.claims import claims_for
from idp.identity.login import upsert_account
from idp.linking import merge
from idp.linking.replay import replay
from idp.settings import DirectorySettings, DirectoryType, OrganizationSettings
from idp.storage import Base
from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import (
    ACTIVE,
    Identity,
    IdentityAlias,
    LinkedAccount,
    account_key,
    resolve_sub,
)
from idp.storage.linking import LinkProposal, ProposalReason

ACCOUNTS = [("tpu", "a", "student"), ("tsu", "b", "staff"), ("tusur", "c", "member"),
            ("tpu", "d", "faculty"), ("tsu", "e", "student")]
ORGS = {org: OrganizationSettings(org, org, org, f"{org}.ru",
                                  DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x"))
        for org in ("tpu", "tsu", "tusur")}
MUTATIONS = ("identity.merged", "account.unlinked", "link.approved", "link.rejected")
INDEX = st.integers(min_value=0, max_value=len(ACCOUNTS) - 1)
STEP = st.tuples(st.sampled_from(["link", "unlink", "approve", "reject"]), INDEX, INDEX)


def key(i: int) -> str:
    return f"{ACCOUNTS[i][0]}:{ACCOUNTS[i][1]}"


def partition(db: Session) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for account in db.scalars(select(LinkedAccount)):
        groups.setdefault(account.identity_id, set()).add(f"{account.organization}:{account.username}")
    return {frozenset(g) for g in groups.values()}


def check_invariants(db: Session, model: list[set[str]], owners: dict[str, str],
                     changes: int) -> None:
    """``owners``: every sub ever handed out, with an account of the group it answers for."""
    identities = list(db.scalars(select(Identity)))
    active = [i for i in identities if i.status == ACTIVE]
    # Every account belongs to exactly one identity, an active one, as the model says.
    assert sum(len(i.accounts) for i in active) == len(ACCOUNTS)
    assert all(i.accounts for i in active) and not any(i.accounts for i in identities if i not in active)
    assert partition(db) == {frozenset(g) for g in model}
    # No sub is reused: active subs, alias subs, all distinct; every alias is a merged identity.
    aliases = list(db.scalars(select(IdentityAlias)))
    alias_subs = [a.sub for a in aliases]
    assert len(set(alias_subs)) == len(alias_subs)
    assert not {i.sub for i in active} & set(alias_subs)
    assert set(alias_subs) == {i.sub for i in identities if i.status != ACTIVE}
    assert len({i.sub for i in identities}) == len(identities)
    # Every sub ever handed out still answers, with the active identity of its group today.
    for sub, member in owners.items():
        found = resolve_sub(db, sub)
        assert found is not None and found[0].status == ACTIVE
        assert found[1] == (sub in alias_subs)
        group = next(g for g in model if member in g)
        assert {f"{a.organization}:{a.username}" for a in found[0].accounts} == group
    for identity in active:
        owners.setdefault(identity.sub, account_key(identity.accounts[0]))
    # Claims: the union over the accounts.
    for identity in active:
        claims = claims_for(identity, ["openid", "campus"], ORGS, precedence=["tusur"])
        assert claims["organizations"] == sorted({a.organization for a in identity.accounts})
        assert claims["affiliations"] == sorted(
            {f"{aff}@{a.organization}.ru" for a in identity.accounts for aff in a.attributes["affiliation"]})
    # One audit event per change that happened...
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.type.in_(MUTATIONS))) == changes
    # ...and the trail alone rebuilds who belongs to whom, and which sub answers for which.
    replayed = replay((e.type, e.details) for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert replayed.accounts == {f"{a.organization}:{a.username}": a.identity.sub
                                 for a in db.scalars(select(LinkedAccount))}
    assert replayed.aliases == {a.sub: db.get_one(Identity, a.identity_id).sub for a in aliases}


def propose(db: Session, i: int, j: int) -> LinkProposal:
    """A pending proposal: account i's identity might be the same person as account j's."""
    account = merge.find_account_by_key(db, key(i))
    candidate = merge.find_account_by_key(db, key(j)).identity
    proposal = LinkProposal(rule="name_birthdate", reason=ProposalReason.PROPOSE_RULE.value,
                            account_id=account.id, identity_id=account.identity_id,
                            candidate_identity_id=candidate.id)
    db.add(proposal)
    db.flush()
    return proposal


@settings(max_examples=40, deadline=None)
@given(st.lists(STEP, max_size=14))
def test_random_links_unlinks_and_decisions_keep_the_invariants(steps: list[tuple[str, int, int]]) -> None:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    model = [{key(i)} for i in range(len(ACCOUNTS))]
    owners: dict[str, str] = {}
    changes = 0
    with sessions() as db:
        for org, username, affiliation in ACCOUNTS:
            upsert_account(db, DirectoryAccount(org, f"{org}-{username}", username,
                                                {"affiliation": (affiliation,)}))
        db.commit()
        check_invariants(db, model, owners, changes)
        for op, i, j in steps:
            before = partition(db)
            group_i = next(g for g in model if key(i) in g)
            group_j = next(g for g in model if key(j) in g)
            identity = merge.find_account_by_key(db, key(i)).identity
            try:
                if op == "link":
                    merge.link_account(db, identity, key(j), reason="property", actor="test")
                elif op == "unlink":
                    merge.unlink_account(db, identity, key(i), reason="property", actor="test")
                elif op == "approve":  # j's identity survives, as the proposal's candidate
                    merge.approve_proposal(db, propose(db, i, j), reason="property", actor="test")
                else:
                    merge.reject_proposal(db, propose(db, i, j), reason="property", actor="test")
                db.commit()
            except Conflict:
                db.rollback()
                assert partition(db) == before  # refused: nothing changed
                assert (op == "link" and key(j) in group_i) or (op == "unlink" and len(group_i) == 1)
                check_invariants(db, model, owners, changes)
                continue
            changes += 1
            if op in ("link", "approve") and group_i is not group_j:
                model.remove(group_j)
                group_i |= group_j
            elif op == "unlink":
                group_i.discard(key(i))
                model.append({key(i)})
                _hand_over(owners, key(i), group_i)
            check_invariants(db, model, owners, changes)
    engine.dispose()


def _hand_over(owners: dict[str, str], moved: str, remaining: set[str]) -> None:
    """An unlinked account's old subs stay with the identity it left: their model member must
    be one of the accounts that stayed."""
    stay = sorted(remaining)[0]
    for sub, member in owners.items():
        if member == moved:
            owners[sub] = stay
