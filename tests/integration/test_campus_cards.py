"""Campus cards on SQLite and PostgreSQL: a library grant issues one card whose number the
delivery carries; recomputing issues no second card; the card stays when access ends; a
re-issue revokes the old number, issues a new one, audits both and queues a grant job per
library connector with both numbers; numbers are never reused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.errors import Conflict, InvalidInput
from idp.provisioning.bulk import recompute_all
from idp.provisioning.card_numbers import damm_valid
from idp.provisioning.card_reissue import cards_json, reissue
from idp.provisioning.grants import recompute
from idp.settings.model import ConnectorSettings, ResourceKind, ResourceSettings
from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory
from idp.storage.cards import CampusCard
from idp.storage.provisioning import DeliveryJob
from tests.integration.test_access_grants import NOW, person, settings


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def two_libraries():  # type: ignore[no-untyped-def]
    """The test settings with a second library resource behind two connectors."""
    s = settings()
    koha = ResourceSettings("koha", "City library", "Городская библиотека",
                            ResourceKind.LIBRARY, connectors=("hook", "scim"))
    policies = dict(s.access.policies)
    policies["students"] = replace(policies["students"], resources=("library", "gym", "koha"))
    return replace(s, access=replace(s.access, resources={**s.access.resources, "koha": koha},
                                     policies=policies),
                   connectors={**s.connectors, "scim": ConnectorSettings(
                       "scim", "webhook", {"url": "http://127.0.0.1:9"})})


def cards(db: Session, identity_id: int) -> list[CampusCard]:
    return list(db.scalars(select(CampusCard).where(CampusCard.identity_id == identity_id)
                           .order_by(CampusCard.id)))


def audit_types(db: Session, identity_id: int) -> list[str]:
    return [e.type for e in db.scalars(select(AuditEvent).where(
        AuditEvent.identity_id == identity_id, AuditEvent.type.like("card.%"))
        .order_by(AuditEvent.id))]


def test_a_library_grant_issues_one_card_and_the_delivery_carries_it(
        sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        jobs = recompute(db, s, [anna], reason="login", now=NOW)
        db.commit()
        [card] = cards(db, anna.id)
        assert card.state == "active" and len(card.number) == 12 and damm_valid(card.number)
        job = db.get_one(DeliveryJob, jobs[0])
        assert job.payload["person"]["card_number"] == card.number
        assert job.payload["person"]["previous_card_number"] is None
        assert job.payload["person"]["campus_id"] == anna.campus_id  # the other fields stay
        assert audit_types(db, anna.id) == ["card.issued"]

        assert recompute(db, s, [anna], reason="login again", now=NOW + timedelta(hours=1)) == []
        db.commit()
        assert [c.number for c in cards(db, anna.id)] == [card.number]


def test_no_card_without_a_library_and_the_card_stays_when_access_ends(
        sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        lev = person(db, "tpu", "lev", "alum")  # no policy for alumni
        assert recompute(db, s, [lev], reason="login", now=NOW) == []
        assert cards(db, lev.id) == []
        anna = person(db, "tpu", "anna", "student")
        recompute(db, s, [anna], reason="login", now=NOW)
        db.commit()
        number = cards(db, anna.id)[0].number
        anna.accounts[0].attributes = {**anna.accounts[0].attributes, "affiliation": ["alum"]}
        recompute(db, s, [anna], reason="left", now=NOW + timedelta(days=1))
        ended = recompute(db, s, [anna], reason="grace over", now=NOW + timedelta(days=40))
        db.commit()
        assert db.get_one(DeliveryJob, ended[0]).kind == "revoke"
        assert db.get_one(DeliveryJob, ended[0]).payload["person"]["card_number"] == number
        assert [(c.number, c.state) for c in cards(db, anna.id)] == [(number, "active")]


def test_reissue_revokes_issues_audits_and_queues_a_job_per_library_connector(
        sessions: sessionmaker[Session]) -> None:
    s = two_libraries()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        recompute(db, s, [anna], reason="login", now=NOW)
        db.commit()
        old = cards(db, anna.id)[0].number
        done = reissue(db, s, anna, reason=" lost at the gym ", actor="cli:test",
                       now=NOW + timedelta(days=2))
        db.commit()
        assert done.revoked is not None and done.revoked.number == old
        new = done.issued.number
        assert new != old and damm_valid(new)
        assert [(c.number, c.state, c.revoke_reason) for c in cards(db, anna.id)] == [
            (old, "revoked", "lost at the gym"), (new, "active", None)]
        jobs = [db.get_one(DeliveryJob, j.id) for j in done.jobs]
        assert sorted((j.resource, j.connector, j.kind) for j in jobs) == [
            ("koha", "hook", "grant"), ("koha", "scim", "grant"), ("library", "hook", "grant")]
        for job in jobs:
            assert job.payload["person"]["card_number"] == new
            assert job.payload["person"]["previous_card_number"] == old
            assert job.payload["grant"]["state"] == "active"
        assert audit_types(db, anna.id) == ["card.issued", "card.issued", "card.revoked"]
        revoked = db.scalars(select(AuditEvent).where(AuditEvent.type == "card.revoked")).one()
        assert revoked.details["number"] == old and revoked.details["replaced_by"] == new
        assert cards_json(db, anna)["card_number"] == new
        assert [c["state"] for c in cards_json(db, anna)["cards"]] == ["active", "revoked"]


def test_reissue_needs_a_reason_and_a_card_or_library_access(
        sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        lev = person(db, "tpu", "lev", "alum")
        with pytest.raises(Conflict):
            reissue(db, s, lev, reason="lost", actor="test", now=NOW)
        with pytest.raises(InvalidInput):
            reissue(db, s, lev, reason="  ", actor="test", now=NOW)
        assert cards(db, lev.id) == []


def test_a_number_is_never_issued_twice(sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        recompute(db, s, [anna], reason="login", now=NOW)
        db.commit()
        number = cards(db, anna.id)[0].number
        for day in range(1, 4):
            reissue(db, s, anna, reason="lost", actor="test", now=NOW + timedelta(days=day))
        db.commit()
        numbers = [c.number for c in cards(db, anna.id)]
        assert len(numbers) == len(set(numbers)) == 4
        assert [c.state for c in cards(db, anna.id)].count("active") == 1
        lev = person(db, "tpu", "lev", "alum")
        db.add(CampusCard(identity_id=lev.id, number=number, state="active", issued_at=NOW))
        with pytest.raises(IntegrityError):
            db.flush()
        db.rollback()
        db.add(CampusCard(identity_id=anna.id, number="123456789018", state="active",
                          issued_at=NOW))
        with pytest.raises(IntegrityError):  # one active card per person
            db.flush()


def test_a_bulk_recompute_issues_a_card_each_without_flushing_between_people(
        sessions: sessionmaker[Session]) -> None:
    s = settings()
    with sessions() as db:
        names = [f"student{i}" for i in range(5)]
        people = [person(db, "tpu", name, "student") for name in names]
        db.commit()
        ids = [p.id for p in people]
    result = recompute_all(sessions, s, now=NOW)
    assert result.jobs == 5
    with sessions() as db:
        jobs = list(db.scalars(select(DeliveryJob).order_by(DeliveryJob.id)))
        numbers = {c.identity_id: c.number for c in db.scalars(select(CampusCard))}
        assert sorted(numbers) == sorted(ids) and len(set(numbers.values())) == 5
        assert {j.identity_id: j.payload["person"]["card_number"] for j in jobs} == numbers
    assert recompute_all(sessions, s, now=NOW + timedelta(hours=1)).jobs == 0
    with sessions() as db:
        assert len(list(db.scalars(select(CampusCard)))) == 5


def test_a_merge_retires_the_absorbed_identitys_card(sessions: sessionmaker[Session]) -> None:
    """One person, one live number: the survivor's card stays, the absorbed one is revoked
    after its revokes were queued with its number."""
    from idp.linking import merge

    s = settings()
    with sessions() as db:
        anna = person(db, "tpu", "anna", "student")
        twin = person(db, "tsu", "anna2", "student")
        recompute(db, s, [anna, twin], reason="login", now=NOW)
        [kept], [retired] = cards(db, anna.id), cards(db, twin.id)
        merge.link_account(db, anna, twin.accounts[0], reason="same person", actor="test")
        jobs = recompute(db, s, [anna, twin], reason="merge", now=NOW)
        db.commit()
        assert [(c.number, c.state) for c in cards(db, anna.id)] == [(kept.number, "active")]
        assert [(c.number, c.state) for c in cards(db, twin.id)] == [(retired.number, "revoked")]
        revoke = next(db.get_one(DeliveryJob, j) for j in jobs
                      if db.get_one(DeliveryJob, j).campus_id == twin.campus_id)
        assert (revoke.kind, revoke.payload["person"]["card_number"]) == ("revoke", retired.number)
        assert audit_types(db, twin.id) == ["card.issued", "card.revoked"]
