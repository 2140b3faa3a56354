"""The delivery worker with the koha connector, end to end against the stand-in Koha
(tests/support/koha_standin.py, which follows Koha's published REST API definition
``api/v1/swagger/paths/patrons.yaml`` and ``definitions/patron.yaml``, Koha 24.x): a grant
recomputed at login becomes a patron; while Koha is down the job waits (pending, attempts
counted, the reason kept) and is delivered once it is back, once; a card number another patron
holds is a dead letter at once with Koha's words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connectors.registry import CONNECTOR_TYPES
from idp.provisioning.worker import Worker
from idp.settings.model import (
    ConnectorSettings,
    ResourceKind,
    ResourceSettings,
    Settings,
)
from tests.support.delivery import jobs, one_resource, student_logs_in, wait_until_due
from tests.support.koha_standin import KohaStandIn, KohaState


def settings(database_url: str, koha_url: str) -> Settings:
    library = ResourceSettings("library", "Library card", "Читательский билет",
                               ResourceKind.LIBRARY, connectors=("library_koha",))
    return one_resource(database_url, library, ConnectorSettings("library_koha", "koha", {
        "url": koha_url, "library_id": "TSU", "category_id": "PT",
        "category_ids": {"student": "ST"}, "client_id": "campus-id",
        "client_secret": "s3cret-client", "timeout_s": 2}), grace_days=30)


@pytest.fixture
def koha() -> Iterator[KohaStandIn]:
    standin = KohaStandIn(KohaState(clients={"campus-id": "s3cret-client"}))
    yield standin
    standin.close()


def run_once(sessions: sessionmaker[Session], s: Settings) -> None:
    connector = CONNECTOR_TYPES["koha"].create("library_koha",
                                               s.connectors["library_koha"].options)
    worker = Worker(sessions, s.delivery, {"library_koha": connector})
    worker.run(once=True)
    worker.close()


def test_a_grant_becomes_a_patron_and_waits_while_koha_is_down(
        sessions: sessionmaker[Session], database_url: str, koha: KohaStandIn) -> None:
    s = settings(database_url, koha.url)
    anna = student_logs_in(sessions, s, "anna")
    run_once(sessions, s)
    [job] = jobs(sessions)
    assert (job.state, job.attempts) == ("done", 1)
    [patron] = koha.state.patrons.values()
    assert (patron["userid"], patron["surname"], patron["firstname"], patron["email"],
            patron["category_id"], patron["cardnumber"]) == (
        anna.campus_id, "Смирнова", "Анна", "anna@tpu.ru", "ST",
        job.payload["person"]["card_number"])  # the campus card issued with the grant

    koha.close()
    boris = student_logs_in(sessions, s, "boris")
    for attempt in (1, 2, 3):  # Koha is down: the job waits, nothing is lost
        run_once(sessions, s)
        waiting = jobs(sessions)[1]
        assert (waiting.state, waiting.attempts) == ("pending", attempt)
        assert waiting.last_error == "Koha refused the connection"
        wait_until_due(sessions)  # past its next attempt

    koha.start()  # same port, same patrons
    run_once(sessions, s)
    delivered = jobs(sessions)[1]
    assert (delivered.state, delivered.attempts) == ("done", 4)
    assert sorted(p["userid"] for p in koha.state.patrons.values()) == sorted(
        [anna.campus_id, boris.campus_id])


def test_a_card_number_koha_gives_another_patron_is_a_dead_letter(
        sessions: sessionmaker[Session], database_url: str, koha: KohaStandIn) -> None:
    s = settings(database_url, koha.url)
    student_logs_in(sessions, s, "anna")
    [job] = jobs(sessions)
    card = job.payload["person"]["card_number"]  # issued with the library grant
    assert card
    koha.add_patron(surname="Petrova", userid="petrova", cardnumber=card)
    run_once(sessions, s)
    [failed] = jobs(sessions)
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert failed.last_error == (f"card number {card} belongs to another patron in Koha: "
                                 "HTTP 409: Duplicate ID (conflict: cardnumber)")
    assert len(koha.state.patrons) == 1
