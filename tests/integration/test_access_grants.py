"""The grant engine on SQLite and PostgreSQL: grants follow the policies over every linked
account, with reasons; grace and end; each change audited and queued for delivery in the same
transaction; a bulk recompute held back by the safety brake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.linking import merge
from idp.provisioning.bulk import recompute_all
from idp.provisioning.explain import explain
from idp.provisioning.grants import recompute
from idp.settings.model import (
    AccessSettings,
    ConnectorSettings,
    DatabaseSettings,
    DirectorySettings,
    DirectoryType,
    OidcSettings,
    OrganizationSettings,
    PolicySettings,
    ResourceKind,
    ResourceSettings,
    ServerSettings,
    Settings,
)
from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import DISABLED, Identity
from idp.storage.provisioning import AccessGrant, DeliveryJob
from tests.support.concurrency import together

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def org(org_id: str, **directory: object) -> OrganizationSettings:
    return OrganizationSettings(org_id, org_id.upper(), org_id.upper(), f"{org_id}.ru",
                                DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x",
                                                  **directory))  # type: ignore[arg-type]


def settings(**policy_changes: object) -> Settings:
    library = ResourceSettings("library", "Library card", "Читательский билет",
                               ResourceKind.LIBRARY, provider="tsu", connectors=("hook",),
                               entitlement="urn:mace:dir:entitlement:common-lib-terms")
    gym = ResourceSettings("gym", "Gym", "Спортзал", ResourceKind.SPORTS)
    students = PolicySettings("students", ("library", "gym"), organizations=("tpu", "tsu"),
                              affiliations=("student",), grace_days=30)
    staff = PolicySettings("staff", ("library",), affiliations=("staff",))
    students = replace(students, **policy_changes)  # type: ignore[arg-type]
    return Settings(
        ServerSettings("https://id.example", True, "k" * 32), DatabaseSettings(), OidcSettings(),
        {o: org(o, max_removal_floor=1) for o in ("tpu", "tsu", "tusur")}, {},
        access=AccessSettings({"library": library, "gym": gym},
                              {"students": students, "staff": staff}),
        connectors={"hook": ConnectorSettings("hook", "webhook", {"url": "http://127.0.0.1:9"})},
    )


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def person(db: Session, org_id: str, username: str, affiliation: str) -> Identity:
    found = DirectoryAccount(org_id, f"{org_id}-{username}", username, {
        "given_name": ("Анна",), "family_name": ("Смирнова",),
        "email": (f"{username}@{org_id}.ru",), "affiliation": (affiliation,)})
    return upsert_account(db, found).identity


def grants(db: Session, identity: Identity) -> dict[str, tuple[str, datetime | None]]:
    rows = db.scalars(select(AccessGrant).where(AccessGrant.identity_id == identity.id))
    return {g.resource: (g.state, g.until) for g in rows}


def test_a_student_gets_what_the_policy_grants_with_reasons_and_a_delivery(
        sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        jobs = recompute(db, s, [anna], reason="login", now=NOW)
        db.commit()
        assert grants(db, anna) == {"library": ("active", None), "gym": ("active", None)}
        job = db.get_one(DeliveryJob, jobs[0])
        assert len(jobs) == 1  # only the library goes through a connector
        assert (job.connector, job.kind, job.resource, job.state) == (
            "hook", "grant", "library", "pending")
        assert job.payload["person"]["organizations"] == ["tpu"]
        assert job.payload["person"]["affiliations"] == ["student@tpu.ru"]
        assert job.payload["grant"]["state"] == "active"
        assert job.payload["held"] == ["library"]  # the gym goes through no connector
        shown = explain(db, s, anna)
        library = next(g for g in shown["grants"] if g["resource"] == "library")
        assert library["because"] == [{"policy": "students", "account": "anna@tpu.ru"}]
        assert library["until"] is None
        types = [e.type for e in db.scalars(select(AuditEvent).where(
            AuditEvent.identity_id == anna.id))]
        assert types.count("access.granted") == 2


def test_every_policy_and_account_is_a_reason_and_nothing_changes_twice(
        sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        other = person(db, "tusur", "asmirnova", "staff")
        merge.link_account(db, anna, other.accounts[0], reason="same person", actor="test")
        recompute(db, s, [anna], reason="link", now=NOW)
        assert recompute(db, s, [anna], reason="login", now=NOW) == []  # nothing new
        db.commit()
        library = next(g for g in explain(db, s, anna)["grants"] if g["resource"] == "library")
        assert library["because"] == [{"policy": "staff", "account": "asmirnova@tusur.ru"},
                                      {"policy": "students", "account": "anna@tpu.ru"}]


def test_grace_then_end_then_revoke(sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        recompute(db, s, [anna], reason="login", now=NOW)
        anna.accounts[0].directory_state = DISABLED
        recompute(db, s, [anna], reason="sync", now=NOW)
        assert grants(db, anna)["library"] == ("grace", NOW + timedelta(days=30))
        assert recompute(db, s, [anna], reason="sync", now=NOW + timedelta(days=29)) == []
        later = NOW + timedelta(days=31)
        jobs = recompute(db, s, [anna], reason="sync", now=later)
        db.commit()
        assert grants(db, anna)["library"] == ("ended", NOW + timedelta(days=30))
        revokes = [db.get_one(DeliveryJob, j) for j in jobs]
        assert [(j.kind, j.payload["held"]) for j in revokes] == [("revoke", [])]
        shown = explain(db, s, anna)["grants"]
        assert {g["state"] for g in shown} == {"ended"}
        assert all(g["because"] for g in shown)  # the reasons it had are kept


def test_held_again_during_grace_keeps_its_start(sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        recompute(db, s, [anna], reason="login", now=NOW)
        anna.accounts[0].directory_state = DISABLED
        recompute(db, s, [anna], reason="sync", now=NOW)
        anna.accounts[0].directory_state = "active"
        recompute(db, s, [anna], reason="sync", now=NOW + timedelta(days=2))
        grant = db.scalars(select(AccessGrant).where(AccessGrant.resource == "library")).one()
        assert (grant.state, grant.since, grant.until) == ("active", NOW, None)


def test_a_policy_window_and_attribute_decide(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        closed = settings(valid_until=date(2026, 9, 30))
        recompute(db, closed, [anna], reason="login", now=NOW)
        assert "gym" not in grants(db, anna)
        needs_programme = settings(attributes={"programme": ("JM-AI-2026",)})
        recompute(db, needs_programme, [anna], reason="login", now=NOW)
        assert "gym" not in grants(db, anna)
        anna.accounts[0].attributes = {**anna.accounts[0].attributes,
                                       "programme": ["JM-AI-2026"]}
        recompute(db, needs_programme, [anna], reason="login", now=NOW)
        assert grants(db, anna)["gym"] == ("active", None)


def test_an_absorbed_identity_ends_its_grants_and_the_survivor_holds_them(
        sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        twin = person(db, "tsu", "anna2", "student")
        recompute(db, s, [anna, twin], reason="login", now=NOW)
        merge.link_account(db, anna, twin.accounts[0], reason="same person", actor="test")
        jobs = recompute(db, s, [anna, twin], reason="merge", now=NOW)
        db.commit()
        assert grants(db, twin) == {"library": ("ended", NOW), "gym": ("ended", NOW)}
        assert grants(db, anna)["library"] == ("active", None)
        revokes = [db.get_one(DeliveryJob, j) for j in jobs]
        assert [(j.kind, j.campus_id) for j in revokes] == [("revoke", twin.campus_id)]


def test_the_brake_holds_a_policy_change_that_ends_access_for_many(
        sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        people = [person(db, "tpu", f"s{i}", "student") for i in range(5)]
        db.commit()
    first = recompute_all(sessions, s, now=NOW)
    assert (first.identities, first.granted, first.jobs) == (5, 10, 5)
    narrowed = settings(organizations=("tsu",))  # tpu students lose everything
    held = recompute_all(sessions, narrowed, now=NOW)
    assert set(held.stopped) == {"tpu"} and held.ended == held.grace == 0
    with sessions() as db:
        assert {g.state for g in db.scalars(select(AccessGrant))} == {"active"}
        stopped = db.scalars(select(AuditEvent).where(
            AuditEvent.type == "access.recompute_stopped")).one()
        assert stopped.organization == "tpu"
    accepted = recompute_all(sessions, narrowed, accept_removals=True, now=NOW)
    assert accepted.grace == 10 and not accepted.stopped
    with sessions() as db:
        assert {g.state for g in db.scalars(select(AccessGrant))} == {"grace"}
        assert len(people) == 5


def test_two_recomputes_of_one_person_at_once_grant_once(
        sessions: sessionmaker[Session]) -> None:
    """Two logins of one person's two accounts at the same moment: one grant, one job."""
    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        db.commit()
        anna_id = anna.id

    def login() -> list[int]:
        with sessions() as db:
            jobs = recompute(db, s, [db.get_one(Identity, anna_id)], reason="login", now=NOW)
            db.commit()
            return jobs

    for _ in range(3):
        results = together(login, login)
        assert sorted(len(r) for r in results) == [0, 1]
        with sessions() as db:
            db.query(DeliveryJob).delete()
            db.query(AccessGrant).delete()
            db.commit()
