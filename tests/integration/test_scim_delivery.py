"""The delivery worker with the scim connector, end to end against a real SCIM 2.0 server
(``scim2-server``; RFC 7643 section 4.1 User, RFC 7644 sections 3.3, 3.4.2.2 and 3.5.1): a grant
recomputed at login becomes a User at the library; while the library is down the job waits
(pending, its attempts counted, the reason kept) and is delivered once it is back, once; the
reconcile pass reads the active Users (RFC 7644 section 3.4.2.4) and repairs the drift."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from connectors.registry import CONNECTOR_TYPES
from connectors.scim_resource import ENTERPRISE_SCHEMA
from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.provisioning.reconcile import reconcile
from idp.provisioning.worker import Worker
from idp.settings.model import (
    ConnectorSettings,
    ResourceKind,
    ResourceSettings,
    Settings,
)
from idp.storage.provisioning import DeliveryJob
from tests.support.delivery import jobs, one_resource, student_logs_in, wait_until_due
from tests.support.scim_server import TOKEN, ScimServer


def settings(database_url: str, scim_url: str) -> Settings:
    library = ResourceSettings("library", "Library card", "Читательский билет",
                               ResourceKind.LIBRARY, connectors=("library_scim",))
    return one_resource(database_url, library, ConnectorSettings("library_scim", "scim", {
        "url": scim_url, "token": TOKEN, "timeout_s": 2, "allow_insecure": True,
        "organization_names": {"tpu": "Tomsk Polytechnic University"}}), grace_days=30)


@pytest.fixture
def library() -> Iterator[ScimServer]:
    server = ScimServer().start()
    yield server
    server.stop()


def run_once(sessions: sessionmaker[Session], s: Settings) -> None:
    connector = CONNECTOR_TYPES["scim"].create("library_scim", s.connectors["library_scim"].options)
    worker = Worker(sessions, s.delivery, {"library_scim": connector})
    worker.run(once=True)
    worker.close()


def test_a_grant_reaches_the_library_and_waits_while_it_is_down(
        sessions: sessionmaker[Session], database_url: str, library: ScimServer) -> None:
    base = library.tenant()
    s = settings(database_url, base)
    anna = student_logs_in(sessions, s, "anna")
    run_once(sessions, s)
    [job] = jobs(sessions)
    assert (job.state, job.attempts) == ("done", 1)
    [user] = library.users(base)
    assert (user["externalId"], user["userName"], user["active"]) == (
        anna.campus_id, anna.campus_id, True)
    assert user["name"] == {"givenName": "Анна", "familyName": "Смирнова",
                            "formatted": "Анна Смирнова"}
    assert user["emails"] == [{"value": "anna@tpu.ru", "type": "work", "primary": True}]
    card = job.payload["person"].get("card_number")  # once cards are issued with the grant
    assert user[ENTERPRISE_SCHEMA] == {"organization": "Tomsk Polytechnic University",
                                       **({"employeeNumber": card} if card else {})}

    library.stop()
    boris = student_logs_in(sessions, s, "boris")
    for attempt in (1, 2, 3):  # the library is down: the job waits, nothing is lost
        run_once(sessions, s)
        waiting = jobs(sessions)[1]
        assert (waiting.state, waiting.attempts) == ("pending", attempt)
        assert waiting.last_error == "find by externalId: connection refused"
        wait_until_due(sessions)  # past its next attempt

    library.start()  # same port; an in-memory server comes back empty
    run_once(sessions, s)
    delivered = jobs(sessions)[1]
    assert (delivered.state, delivered.attempts) == ("done", 4)
    assert [u["externalId"] for u in library.users(base)] == [boris.campus_id]


def test_reconcile_repairs_what_the_library_lost_or_holds_extra(
        sessions: sessionmaker[Session], database_url: str, library: ScimServer) -> None:
    base = library.tenant()
    s = settings(database_url, base)
    anna = student_logs_in(sessions, s, "anna")  # granted, never delivered: missing there
    with sessions() as db:  # known to Campus ID, but with no grant: extra there
        vera = upsert_account(db, DirectoryAccount("tpu", "tpu-vera", "vera", {
            "affiliation": ("alum",)})).identity
        db.commit()
    library.create(base, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                          "userName": vera.campus_id, "externalId": vera.campus_id,
                          "active": True})
    connector = CONNECTOR_TYPES["scim"].create("library_scim", s.connectors["library_scim"].options)
    with sessions() as db:  # the login's grant job is gone (say, retried and dropped by hand)
        db.execute(delete(DeliveryJob))
        db.commit()
    summary = reconcile(sessions, s, {"library_scim": connector}, "library_scim")
    assert summary["resources"] == [{
        "resource": "library", "held": 1, "expected": 1, "grants_queued": 1,
        "revokes_queued": 1, "unknown": 0, "left_to_open_jobs": 0}]
    run_once(sessions, s)
    users = {u["externalId"]: u["active"] for u in library.users(base)}
    assert users == {anna.campus_id: True, vera.campus_id: False}
