"""The merge and unlink engine on SQLite and PostgreSQL: what moves, what stays, what the
audit trail says, and that refused changes change nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from idp.directory.base import DirectoryAccount
from idp.errors import Conflict, InvalidInput, NotFound
from idp.identity.claims import claims_for
from idp.identity.login import upsert_account
from idp.linking import helpdesk, merge
from idp.linking.helpdesk import HelpdeskScope
from idp.settings import DirectorySettings, DirectoryType, OrganizationSettings
from idp.storage import audit
from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory, utcnow
from idp.storage.clients import Client
from idp.storage.grants import Consent, has_consent, remember_consent
from idp.storage.identities import Identity, IdentityAlias, resolve_sub
from idp.storage.linking import LinkProposal, ProposalStatus
from idp.storage.refresh_tokens import RefreshToken
from idp.storage.sessions import LoginSession

ORGS = {
    org: OrganizationSettings(org, org.upper(), org.upper(), f"{org}.ru",
                              DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x"))
    for org in ("tpu", "tsu", "tusur")
}
ACTOR = "client:helpdesk"


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def person(db: Session, org: str, username: str, given: str = "Анна", family: str = "Смирнова",
           affiliation: str = "student") -> Identity:
    found = DirectoryAccount(org, f"{org}-{username}", username, {
        "given_name": (given,), "family_name": (family,), "email": (f"{username}@{org}.ru",),
        "affiliation": (affiliation,)})
    return upsert_account(db, found).identity


def client(db: Session, client_id: str = "rp1") -> Client:
    c = Client(client_id=client_id, name=client_id, redirect_uris=["https://rp.example/cb"],
               scopes=["openid", "profile"])
    db.add(c)
    db.flush()
    return c


def events_after(db: Session, first_id: int) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.id > first_id)))


def last_event_id(db: Session) -> int:
    return int(db.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0)


def test_merge_keeps_the_survivors_sub_and_moves_everything(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        survivor, absorbed = person(db, "tpu", "asmirnova"), person(db, "tsu", "anna.smirnova")
        rp1, rp2 = client(db, "rp1"), client(db, "rp2")
        remember_consent(db, survivor.id, rp1.id, {"openid"})
        remember_consent(db, absorbed.id, rp1.id, {"openid", "profile"})
        remember_consent(db, absorbed.id, rp2.id, {"openid"})
        later = utcnow() + timedelta(hours=1)
        db.add(LoginSession(session_id="s1", identity_id=absorbed.id,
                            account_id=absorbed.accounts[0].id, auth_time=0, expires_at=later))
        db.add(RefreshToken(token_hash="h" * 64, family_id="f1", client_pk=rp1.id,
                            identity_id=absorbed.id, scope="openid", expires_at=later,
                            idle_expires_at=later))
        db.add(LinkProposal(rule="name", reason="propose_rule", account_id=absorbed.accounts[0].id,
                            identity_id=absorbed.id, candidate_identity_id=survivor.id))
        db.commit()
        old_sub, kept_sub, start = absorbed.sub, survivor.sub, last_event_id(db)

    with sessions() as db:
        target = db.get_one(Identity, survivor.id)
        outcome = merge.link_account(db, target, "tsu:anna.smirnova", reason="same person, ticket 42",
                                     actor=ACTOR)
        db.commit()
        assert outcome.absorbed_sub == old_sub and outcome.closed_proposals
    with sessions() as db:
        found = resolve_sub(db, old_sub)
        assert found is not None and found[0].sub == kept_sub and found[1] is True
        identity = found[0]
        assert sorted(a.organization for a in identity.accounts) == ["tpu", "tsu"]
        assert has_consent(db, identity.id, rp1.id, {"openid", "profile"})
        assert has_consent(db, identity.id, rp2.id, {"openid"})
        assert db.scalar(select(func.count()).select_from(Consent)
                         .where(Consent.identity_id == absorbed.id)) == 0
        assert db.scalars(select(LoginSession)).one().identity_id == identity.id
        assert db.scalars(select(RefreshToken)).one().identity_id == identity.id
        assert db.scalars(select(LinkProposal)).one().status == ProposalStatus.APPROVED.value
        old = db.get_one(Identity, absorbed.id)
        assert old.status == "merged" and old.merged_into_id == identity.id and not old.accounts
        [event] = events_after(db, start)
        assert event.type == "identity.merged" and event.actor == ACTOR
        assert event.details["reason"] == "same person, ticket 42"
        assert event.details["before"] == {kept_sub: ["tpu:asmirnova"], old_sub: ["tsu:anna.smirnova"]}
        assert event.details["after"] == {kept_sub: ["tpu:asmirnova", "tsu:anna.smirnova"]}


def test_claims_of_a_merged_identity(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        tsu = person(db, "tsu", "anna.smirnova", given="Анна", affiliation="staff")
        tpu = person(db, "tpu", "asmirnova", given="Аня", affiliation="student")
        merge.link_account(db, tsu, "tpu:asmirnova", reason="ticket 1", actor=ACTOR)
        db.commit()
        scopes = ["openid", "profile", "campus"]
        oldest = claims_for(tsu, scopes, ORGS)
        assert oldest["given_name"] == "Анна" and oldest["preferred_username"] == "anna.smirnova@tsu.ru"
        assert oldest["affiliations"] == ["staff@tsu.ru", "student@tpu.ru"]
        assert oldest["organizations"] == ["tpu", "tsu"]
        ranked = claims_for(tsu, scopes, ORGS, precedence=["tpu", "tsu"])
        assert ranked["given_name"] == "Аня" and ranked["sub"] == tsu.sub != tpu.sub
        assert ranked["affiliations"] == oldest["affiliations"]


def test_unlink_gives_a_new_sub_and_the_old_identity_keeps_its_own(
        sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        identity = person(db, "tpu", "vzhukov")
        person(db, "tsu", "viktor.zhukov")
        merge.link_account(db, identity, "tsu:viktor.zhukov", reason="ticket 7", actor=ACTOR)
        tsu_account = next(a for a in identity.accounts if a.organization == "tsu")
        db.add(LoginSession(session_id="s2", identity_id=identity.id, account_id=tsu_account.id,
                            auth_time=0, expires_at=utcnow() + timedelta(hours=1)))
        db.commit()
        sub, start = identity.sub, last_event_id(db)
    with sessions() as db:
        identity = db.get_one(Identity, identity.id)
        created = merge.unlink_account(db, identity, "tsu:viktor.zhukov", reason="wrong person",
                                       actor=ACTOR)
        db.commit()
        assert identity.sub == sub and created.sub != sub
        assert [a.username for a in identity.accounts] == ["vzhukov"]
        assert [a.username for a in created.accounts] == ["viktor.zhukov"]
        assert db.scalars(select(LoginSession)).one().identity_id == created.id
        assert db.scalar(select(IdentityAlias).where(IdentityAlias.sub == created.sub)) is None
        [event] = events_after(db, start)
        assert (event.type, event.actor, event.details["reason"]) == \
            ("account.unlinked", ACTOR, "wrong person")
        assert event.details["new_sub"] == created.sub
        trail, _ = helpdesk.audit_trail(db, created, limit=10)
        assert [e.id for e in trail] == [event.id]


def test_refused_changes_change_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        one, other = person(db, "tpu", "ivanov"), person(db, "tsu", "petrov")
        db.commit()
        start = last_event_id(db)
        with pytest.raises(Conflict, match="last account"):
            merge.unlink_account(db, one, "tpu:ivanov", reason="why not", actor=ACTOR)
        with pytest.raises(NotFound):
            merge.unlink_account(db, one, "tsu:petrov", reason="not here", actor=ACTOR)
        with pytest.raises(Conflict, match="already linked"):
            merge.link_account(db, one, "tpu:ivanov", reason="again", actor=ACTOR)
        for reason in ("", "   ", None, "x" * 501):
            with pytest.raises(InvalidInput):
                merge.link_account(db, one, "tsu:petrov", reason=reason, actor=ACTOR)  # type: ignore[arg-type]
        for key in ("petrov", "tsu:", ":petrov", "TSU:petrov", "tsu:pet rov", 42):
            with pytest.raises(InvalidInput):
                merge.link_account(db, one, key, reason="ok", actor=ACTOR)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            merge.link_account(db, one, "tsu:nobody", reason="ok", actor=ACTOR)
        db.commit()
        assert last_event_id(db) == start
        assert [a.username for a in db.get_one(Identity, other.id).accounts] == ["petrov"]


def test_a_survivor_absorbed_later_takes_its_aliases_along(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        a, b, c = person(db, "tpu", "a"), person(db, "tsu", "b"), person(db, "tusur", "c")
        merge.link_account(db, a, "tsu:b", reason="1", actor=ACTOR)
        merge.link_account(db, c, "tpu:a", reason="2", actor=ACTOR)
        db.commit()
        for sub in (a.sub, b.sub, c.sub):
            found = resolve_sub(db, sub)
            assert found is not None and found[0].id == c.id
        assert merge.current_identity(db, b).id == c.id
        assert sorted(x.sub for x in db.scalars(select(IdentityAlias))) == sorted([a.sub, b.sub])
        trail, _ = helpdesk.audit_trail(db, c, limit=50)
        types = [e.type for e in trail]
        assert types[:2] == ["identity.merged", "identity.merged"]  # newest first
        assert types.count("identity.created") == 3  # every absorbed identity's history too


def test_proposal_decisions(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        a, b, c = person(db, "tpu", "elkina"), person(db, "tsu", "alena.elkina"), person(db, "tusur", "x")
        approve = LinkProposal(rule="name", reason="propose_rule", account_id=b.accounts[0].id,
                               identity_id=b.id, candidate_identity_id=a.id)
        reject = LinkProposal(rule="name", reason="propose_rule", account_id=c.accounts[0].id,
                              identity_id=c.id, candidate_identity_id=a.id)
        db.add_all([approve, reject])
        db.commit()
        start = last_event_id(db)
        with pytest.raises(InvalidInput):
            merge.approve_proposal(db, approve, reason="", actor=ACTOR)
        outcome = merge.approve_proposal(db, approve, reason="checked the passport", actor=ACTOR)
        merge.reject_proposal(db, reject, reason="different people", actor=ACTOR)
        db.commit()
        assert outcome is not None and outcome.survivor.id == a.id and outcome.absorbed_sub == b.sub
        assert (approve.status, reject.status) == ("approved", "rejected")
        assert [a.username for a in db.get_one(Identity, c.id).accounts] == ["x"]
        events = events_after(db, start)
        assert [(e.type, e.actor, e.details["reason"]) for e in events] == [
            ("link.approved", ACTOR, "checked the passport"),
            ("link.rejected", ACTOR, "different people")]
        with pytest.raises(Conflict):
            merge.reject_proposal(db, approve, reason="too late", actor=ACTOR)


def test_search_and_organization_scope(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        smirnova = person(db, "tpu", "asmirnova")
        person(db, "tsu", "anna.smirnova")
        petrov = person(db, "tsu", "petrov", given="Пётр", family="Петров")
        merge.link_account(db, smirnova, "tsu:anna.smirnova", reason="1", actor=ACTOR)
        db.commit()
        everywhere, tpu_only = HelpdeskScope.of_roles(["helpdesk"]), HelpdeskScope.of_roles(["helpdesk:tpu"])
        assert everywhere is not None and tpu_only is not None
        assert HelpdeskScope.of_roles(["admin"]) is None

        def find(q: str, scope: HelpdeskScope = everywhere) -> list[str]:
            return [i.sub for i in helpdesk.search(db, q, organizations=ORGS, scope=scope, limit=10)[0]]

        alias = db.scalars(select(IdentityAlias)).one().sub
        for q in ("смирнова", "Смирнова", "asmirnova", "asmirnova@tpu.ru", "anna.smirnova@tsu.ru",
                  "anna.smirnova@tsu.ru".upper(), smirnova.campus_id, smirnova.sub, alias):
            assert find(q) == [smirnova.sub], q
        assert find("petrov") == [petrov.sub]
        assert find("petrov", tpu_only) == []
        assert find("asmirnova@tsu.ru") == []
        assert find("nobody") == []
        assert find("%") == [] and find("_") == []
        # Names by word prefixes of one account (ё read as е); no substring matches.
        for q in ("смир", "анна смирнова", "Смирнова  АННА", "anna.smir"):
            assert find(q) == [smirnova.sub], q
        assert find("петр") == find("Пётр Петров") == [petrov.sub]
        assert find("анна петров") == [] and find("с") == []
        # No substring matches; PostgreSQL forgives one typo: Смирнова without its first letter.
        typo = [smirnova.sub] if db.get_bind().dialect.name == "postgresql" else []
        assert find("мирнова") == typo
        page, cursor = helpdesk.search(db, "tsu.ru", organizations=ORGS, scope=everywhere, limit=1)
        assert len(page) == 1 and cursor is not None
        rest, end = helpdesk.search(db, "tsu.ru", organizations=ORGS, scope=everywhere, limit=10,
                                    after=cursor)
        assert {i.sub for i in page + rest} == {smirnova.sub, petrov.sub} and end is None
        assert audit.events(db)  # the trail exists for the API to show


def test_crossed_concurrent_merges_leave_one_identity(sessions: sessionmaker[Session]) -> None:
    """Helpdesk 1 links tsu:b into a's identity while helpdesk 2 links tpu:a into b's: one
    wins, the other finds the state changed; both accounts end on one active identity."""
    with sessions() as db:
        a, b = person(db, "tpu", "a"), person(db, "tsu", "b")
        db.commit()
        ids = {"tpu:a": a.id, "tsu:b": b.id}
    barrier = threading.Barrier(2)
    results: list[str] = []

    def link(target_key: str, other_key: str) -> None:
        with sessions() as db:
            target = db.get_one(Identity, ids[target_key])
            _ = target.accounts, merge.find_account_by_key(db, other_key).identity
            db.commit()  # what each helpdesk saw, before either acts (SQLite: one writer)
            barrier.wait()
            try:
                merge.link_account(db, target, other_key, reason="race", actor=ACTOR)
                db.commit()
                results.append("linked")
            except Conflict:
                db.rollback()
                results.append("conflict")

    threads = [threading.Thread(target=link, args=("tpu:a", "tsu:b")),
               threading.Thread(target=link, args=("tsu:b", "tpu:a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "linked"]
    with sessions() as db:
        active = list(db.scalars(select(Identity).where(Identity.status == "active")))
        assert len(active) == 1
        assert sorted(x.username for x in active[0].accounts) == ["a", "b"]
        assert db.scalar(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.type == "identity.merged")) == 1


def test_concurrent_unlinks_never_empty_an_identity(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        a = person(db, "tpu", "a")
        person(db, "tsu", "b")
        merge.link_account(db, a, "tsu:b", reason="setup", actor=ACTOR)
        db.commit()
    barrier = threading.Barrier(2)
    results: list[str] = []

    def unlink(key: str) -> None:
        with sessions() as db:
            identity = db.get_one(Identity, a.id)
            _ = identity.accounts
            db.commit()
            barrier.wait()
            try:
                merge.unlink_account(db, identity, key, reason="race", actor=ACTOR)
                db.commit()
                results.append("unlinked")
            except Conflict:
                db.rollback()
                results.append("conflict")

    threads = [threading.Thread(target=unlink, args=(k,)) for k in ("tpu:a", "tsu:b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "unlinked"]
    with sessions() as db:
        for identity in db.scalars(select(Identity).where(Identity.status == "active")):
            assert len(identity.accounts) == 1
