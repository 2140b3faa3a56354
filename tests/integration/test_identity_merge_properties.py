"""Random sequences of links (merges) and unlinks keep the invariants of campus identities,
checked against a model that only knows which accounts belong together (SQLite in memory)."""

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
from idp.settings import DirectorySettings, DirectoryType, OrganizationSettings
from idp.storage import Base
from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import ACTIVE, Identity, IdentityAlias, LinkedAccount, resolve_sub

ACCOUNTS = [("tpu", "a", "student"), ("tsu", "b", "staff"), ("tusur", "c", "member"),
            ("tpu", "d", "faculty"), ("tsu", "e", "student")]
ORGS = {org: OrganizationSettings(org, org, org, f"{org}.ru",
                                  DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x"))
        for org in ("tpu", "tsu", "tusur")}
MUTATIONS = ("identity.merged", "account.unlinked")
INDEX = st.integers(min_value=0, max_value=len(ACCOUNTS) - 1)
STEP = st.one_of(st.tuples(st.just("link"), INDEX, INDEX), st.tuples(st.just("unlink"), INDEX, INDEX))


def key(i: int) -> str:
    return f"{ACCOUNTS[i][0]}:{ACCOUNTS[i][1]}"


def partition(db: Session) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for account in db.scalars(select(LinkedAccount)):
        groups.setdefault(account.identity_id, set()).add(f"{account.organization}:{account.username}")
    return {frozenset(g) for g in groups.values()}


def check_invariants(db: Session, model: list[set[str]], subs_seen: set[str], changes: int) -> None:
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
    # Every sub ever handed out still answers, with an active identity.
    for sub in subs_seen:
        found = resolve_sub(db, sub)
        assert found is not None and found[0].status == ACTIVE
    subs_seen.update(i.sub for i in active)
    # Claims: the union over the accounts.
    for identity in active:
        claims = claims_for(identity, ["openid", "campus"], ORGS, precedence=["tusur"])
        assert claims["organizations"] == sorted({a.organization for a in identity.accounts})
        assert claims["affiliations"] == sorted(
            {f"{aff}@{a.organization}.ru" for a in identity.accounts for aff in a.attributes["affiliation"]})
    # One audit event per change that happened.
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.type.in_(MUTATIONS))) == changes


@settings(max_examples=30, deadline=None)
@given(st.lists(STEP, max_size=12))
def test_random_links_and_unlinks_keep_the_invariants(steps: list[tuple[str, int, int]]) -> None:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    model = [{key(i)} for i in range(len(ACCOUNTS))]
    subs_seen: set[str] = set()
    changes = 0
    with sessions() as db:
        for org, username, affiliation in ACCOUNTS:
            upsert_account(db, DirectoryAccount(org, f"{org}-{username}", username,
                                                {"affiliation": (affiliation,)}))
        db.commit()
        check_invariants(db, model, subs_seen, changes)
        for op, i, j in steps:
            before = partition(db)
            group_i = next(g for g in model if key(i) in g)
            identity = merge.find_account_by_key(db, key(i)).identity
            try:
                if op == "link":
                    merge.link_account(db, identity, key(j), reason="property", actor="test")
                    group_j = next(g for g in model if key(j) in g)
                    model.remove(group_j)
                    group_i |= group_j
                else:
                    merge.unlink_account(db, identity, key(i), reason="property", actor="test")
                    group_i.discard(key(i))
                    model.append({key(i)})
                changes += 1
                db.commit()
            except Conflict:
                assert partition(db) == before  # refused: nothing changed
                db.rollback()
                assert (op == "link" and key(j) in group_i) or (op == "unlink" and len(group_i) == 1)
            check_invariants(db, model, subs_seen, changes)
    engine.dispose()
