"""End to end on SQLite and PostgreSQL: a student's course grant, queued by the access engine,
delivered by the delivery worker through the Moodle connector to the stand-in Moodle 4.1 web
service (tests/support/moodle_standin.py, following Moodle 4.1.10's externallib.php files and
recorded answers). Moodle is down at first: the job waits, nothing is lost, and it is
delivered once Moodle is back, with exactly the username and email Campus ID's ``moodle``
profile sends at login (so Moodle's OAuth 2 login finds the account: docs/moodle.md). A wrong
token dead-letters the job with Moodle's message, for the admin to see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connectors.registry import CONNECTOR_TYPES
from idp.identity.claims import claims_for
from idp.provisioning.worker import Worker
from idp.settings.model import (
    ConnectorSettings,
    ResourceKind,
    ResourceSettings,
    Settings,
)
from idp.storage.identities import Identity
from tests.support.delivery import jobs, one_resource, student_logs_in, wait_until_due
from tests.support.moodle_standin import MoodleStandIn

TOKEN = "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0"
HIST = 2
def settings(url: str, moodle_url: str) -> Settings:
    course = ResourceSettings("hist101", "History of Science 101", "История науки 101",
                              ResourceKind.COURSE, provider="tpu", connectors=("moodle",))
    return one_resource(url, course, ConnectorSettings("moodle", "moodle", {
        "url": moodle_url, "token": TOKEN, "timeout_s": 2, "courses": {"hist101": HIST},
        "cohorts": {"tpu": "tpu-students"}}))


@pytest.fixture
def moodle() -> Iterator[MoodleStandIn]:
    standin = MoodleStandIn(TOKEN, cohorts=("tpu-students",), courses=(HIST,))
    yield standin
    standin.close()


def student(sessions: sessionmaker[Session], s: Settings) -> tuple[str, dict[str, str]]:
    """A student's first login: the grant and its job; their campus id and the claims
    Moodle's login asks for (scopes openid profile email campus)."""
    identity = student_logs_in(sessions, s, "vzhukov", email="VZhukov@tpu.ru",
                               names={"given_name": "Виктор", "family_name": "Жуков"})
    with sessions() as db:
        identity = db.get_one(Identity, identity.id)
        claims = claims_for(identity, ("openid", "profile", "email", "campus"), s.organizations)
        return identity.campus_id, claims


def worker(sessions: sessionmaker[Session], s: Settings) -> Worker:
    built = {"moodle": CONNECTOR_TYPES["moodle"].create("moodle", s.connectors["moodle"].options)}
    return Worker(sessions, s.delivery, built)


def test_moodle_down_then_back_the_job_waits_and_is_delivered(
        sessions: sessionmaker[Session], database_url: str, moodle: MoodleStandIn) -> None:
    s = settings(database_url, moodle.url)
    campus_id, claims = student(sessions, s)
    moodle.http_status = 503
    w = worker(sessions, s)
    w.run(once=True)
    [job] = jobs(sessions)
    assert (job.state, job.attempts) == ("pending", 1)
    assert job.last_error is not None
    assert job.last_error.startswith("Moodle core_user_get_users_by_field: HTTP 503")
    assert moodle.site.users == {}
    moodle.http_status = None  # back
    wait_until_due(sessions)  # past its next attempt
    w.run(once=True)
    w.close()
    [job] = jobs(sessions)
    assert (job.state, job.attempts) == ("done", 2)
    user = moodle.user(campus_id)
    assert user is not None
    # What Moodle's OAuth 2 login will map: campus_id -> username, email -> email (exact bytes).
    assert (user["username"], user["email"]) == (claims["campus_id"], claims["email"])
    assert (user["auth"], user["firstname"], user["lastname"]) == ("oauth2", "Виктор", "Жуков")
    assert moodle.cohort_members("tpu-students") == {campus_id}
    enrolment = moodle.enrolment(campus_id, HIST)
    assert enrolment is not None and enrolment.status == 0


def test_a_wrong_token_dead_letters_the_job_with_moodles_message(
        sessions: sessionmaker[Session], database_url: str, moodle: MoodleStandIn) -> None:
    s = settings(database_url, moodle.url)
    student(sessions, s)
    moodle.token = "rotated-in-moodle"
    w = worker(sessions, s)
    w.run(once=True)
    w.close()
    [job] = jobs(sessions)
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.last_error == (
        "Moodle core_user_get_users_by_field: invalidtoken: Invalid token - token not found; "
        "the connector's token is wrong or was deleted in Moodle")
