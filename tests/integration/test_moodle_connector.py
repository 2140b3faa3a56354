"""The Moodle connector against the stand-in Moodle 4.1 web service on 127.0.0.1
(tests/support/moodle_standin.py, which follows Moodle 4.1.10's user/, cohort/ and
enrol/manual/ externallib.php and the answers recorded from a real 4.1.10 site): account,
cohort and enrolment prepared by a grant, safe to repeat, kept up to date, suspended by
revokes and reactivated; each way Moodle refuses or fails becomes ``NeverWorks`` or
``RetryLater``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from connectors import moodle_ws
from connectors.base import Delivery, DeliveryKind, NeverWorks, RetryLater
from connectors.moodle import MoodleConnector
from connectors.registry import CONNECTOR_TYPES
from tests.support.hanging import hanging_proxy
from tests.support.moodle_standin import MoodleStandIn

TOKEN = "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0"
HIST, ML = 2, 3  # Moodle course ids
ANNA = {"campus_id": "123456782", "sub": "Zx81", "name": "Анна Смирнова", "email": "a.smirnova@tpu.ru",
        "organizations": ["tpu", "tsu"], "affiliations": ["student@tpu.ru"],
        "given_name": "Анна", "family_name": "Смирнова", "username": "asmirnova@tpu.ru",
        "home_organization": "tpu"}


@pytest.fixture
def moodle() -> Iterator[MoodleStandIn]:
    standin = MoodleStandIn(TOKEN, cohorts=("tpu-students", "tsu-students"), courses=(HIST, ML))
    yield standin
    standin.close()


def connector(url: str, **options: Any) -> MoodleConnector:
    made = CONNECTOR_TYPES["moodle"].create("moodle", {
        "url": url, "token": TOKEN, "timeout_s": 5, "courses": {"hist101": HIST, "ml201": ML},
        "cohorts": {"tpu": "tpu-students"}, **options})
    assert isinstance(made, MoodleConnector)
    return made


def delivery(kind: DeliveryKind = DeliveryKind.GRANT, resource: str = "hist101",
             held: tuple[str, ...] = ("hist101",), **person: Any) -> Delivery:
    state = "active" if kind is DeliveryKind.GRANT else "ended"
    return Delivery(key="msg_1", kind=kind, resource=resource,
                    grant={"state": state, "since": "2026-09-01T08:00:00+00:00", "until": None},
                    person={**ANNA, **person}, held=held)


def revoke(resource: str, held: tuple[str, ...]) -> Delivery:
    return delivery(DeliveryKind.REVOKE, resource, held)


def functions(moodle: MoodleStandIn) -> list[str]:
    return [function for function, _ in moodle.calls]


def test_the_first_grant_creates_the_user_the_login_will_find(moodle: MoodleStandIn) -> None:
    connector(moodle.url).deliver(delivery(), deadline_s=5)
    user = moodle.user("123456782")
    assert user is not None
    assert {k: user[k] for k in ("username", "auth", "email", "firstname", "lastname", "idnumber",
                                 "suspended")} == {
        "username": "123456782", "auth": "oauth2", "email": "a.smirnova@tpu.ru",
        "firstname": "Анна", "lastname": "Смирнова", "idnumber": "123456782", "suspended": False}
    assert moodle.cohort_members("tpu-students") == {"123456782"}
    assert moodle.cohort_members("tsu-students") == set()  # tsu has no cohort configured
    enrolment = moodle.enrolment("123456782", HIST)
    assert enrolment is not None and (enrolment.status, enrolment.roles) == (0, {5})
    assert functions(moodle) == ["core_user_get_users_by_field", "core_user_create_users",
                                 "core_cohort_add_cohort_members", "enrol_manual_enrol_users"]


def test_a_repeated_delivery_creates_no_second_user(moodle: MoodleStandIn) -> None:
    moodle_connector = connector(moodle.url)
    moodle_connector.deliver(delivery(), deadline_s=5)
    moodle.calls.clear()
    moodle_connector.deliver(delivery(), deadline_s=5)  # "already a member" is no problem
    assert functions(moodle) == ["core_user_get_users_by_field", "core_cohort_add_cohort_members",
                                 "enrol_manual_enrol_users"]
    assert len(moodle.site.users) == 1


def test_a_grant_updates_what_changed_in_name_and_email(moodle: MoodleStandIn) -> None:
    moodle_connector = connector(moodle.url)
    moodle_connector.deliver(delivery(), deadline_s=5)
    moodle.calls.clear()
    moodle_connector.deliver(delivery(resource="ml201", held=("hist101", "ml201"),
                                      family_name="Иванова", email="a.ivanova@tpu.ru"),
                             deadline_s=5)
    [update] = [args for function, args in moodle.calls if function == "core_user_update_users"]
    user = moodle.user("123456782")
    assert user is not None
    assert update == {"users": [{"id": user["id"], "lastname": "Иванова",
                                 "email": "a.ivanova@tpu.ru"}]}
    assert (user["lastname"], user["email"]) == ("Иванова", "a.ivanova@tpu.ru")
    assert moodle.enrolment("123456782", ML) is not None


def test_revokes_suspend_the_enrolment_then_the_user_and_a_new_grant_reactivates(
        moodle: MoodleStandIn) -> None:
    moodle_connector = connector(moodle.url)
    moodle_connector.deliver(delivery(), deadline_s=5)
    moodle_connector.deliver(delivery(resource="moodle", held=("hist101", "moodle")), deadline_s=5)
    moodle_connector.deliver(revoke("hist101", held=("moodle",)), deadline_s=5)
    enrolment = moodle.enrolment("123456782", HIST)
    user = moodle.user("123456782")
    assert enrolment is not None and enrolment.status == 1  # suspended, grades kept
    assert user is not None and user["suspended"] is False  # the Moodle-wide grant holds
    moodle_connector.deliver(revoke("moodle", held=()), deadline_s=5)
    user = moodle.user("123456782")
    assert user is not None and user["suspended"] is True
    moodle_connector.deliver(revoke("moodle", held=()), deadline_s=5)  # a repeat: no change
    moodle_connector.deliver(delivery(), deadline_s=5)
    user, enrolment = moodle.user("123456782"), moodle.enrolment("123456782", HIST)
    assert user is not None and user["suspended"] is False
    assert enrolment is not None and enrolment.status == 0
    assert len(moodle.site.users) == 1


def test_a_revoke_for_a_person_moodle_never_saw_changes_nothing(moodle: MoodleStandIn) -> None:
    connector(moodle.url).deliver(revoke("hist101", held=()), deadline_s=5)
    assert functions(moodle) == ["core_user_get_users_by_field"]
    assert moodle.site.users == {} and moodle.site.courses[HIST] == {}


def test_a_wrong_token_never_works_and_says_so(moodle: MoodleStandIn) -> None:
    moodle.token = "another-token"
    with pytest.raises(NeverWorks) as raised:
        connector(moodle.url).deliver(delivery(), deadline_s=5)
    assert str(raised.value) == (
        "Moodle core_user_get_users_by_field: invalidtoken: Invalid token - token not found; "
        "the connector's token is wrong or was deleted in Moodle")
    assert TOKEN not in str(raised.value)


def test_a_function_missing_from_the_service_never_works(moodle: MoodleStandIn) -> None:
    moodle.service.discard("enrol_manual_enrol_users")
    with pytest.raises(NeverWorks, match=r"^Moodle enrol_manual_enrol_users: accessexception: "
                                         r"Access control exception; add the function"):
        connector(moodle.url).deliver(delivery(), deadline_s=5)


def test_web_services_off_never_work(moodle: MoodleStandIn) -> None:
    moodle.rest_enabled = False
    with pytest.raises(NeverWorks, match=r"HTTP 403 \(web services or the REST protocol are "
                                         r"not enabled in Moodle\)"):
        connector(moodle.url).deliver(delivery(), deadline_s=5)


def test_a_username_moodle_refuses_never_works_and_creates_nothing(moodle: MoodleStandIn) -> None:
    with pytest.raises(NeverWorks) as raised:
        connector(moodle.url).deliver(delivery(campus_id="1234/5678"), deadline_s=5)
    assert str(raised.value).startswith(
        "Moodle core_user_get_users_by_field: invalidparameter: Invalid parameter value detected "
        "(The field 'username' value is invalid: 1234/5678(cleaned value: 12345678))")
    assert moodle.site.users == {}


def test_an_email_another_moodle_user_has_never_works(moodle: MoodleStandIn) -> None:
    connector(moodle.url).deliver(delivery(campus_id="999999990"), deadline_s=5)
    with pytest.raises(NeverWorks, match=r"core_user_create_users: invalidparameter: .*"
                                         r"\(Email address already exists: a.smirnova@tpu.ru\)"):
        connector(moodle.url).deliver(delivery(), deadline_s=5)
    assert moodle.user("123456782") is None  # one user, all or nothing


def test_a_missing_cohort_never_works_but_the_enrolment_is_made(moodle: MoodleStandIn) -> None:
    with pytest.raises(NeverWorks, match=r"^Moodle core_cohort_add_cohort_members: 2: cohort "
                                         r"idnumber=no-such-cohort not exists$"):
        connector(moodle.url, cohorts={"tpu": "no-such-cohort"}).deliver(delivery(), deadline_s=5)
    assert moodle.enrolment("123456782", HIST) is not None


def test_a_course_moodle_does_not_have_never_works(moodle: MoodleStandIn) -> None:
    with pytest.raises(NeverWorks, match=r"enrol_manual_enrol_users: .*Context does not exist"):
        connector(moodle.url, courses={"hist101": 77}).deliver(delivery(), deadline_s=5)


def test_a_person_without_an_email_never_works_before_any_call(moodle: MoodleStandIn) -> None:
    with pytest.raises(NeverWorks, match="no email address"):
        connector(moodle.url).deliver(delivery(email=None), deadline_s=5)
    assert moodle.calls == []


def test_names_fall_back_so_moodle_gets_both(moodle: MoodleStandIn) -> None:
    connector(moodle.url).deliver(delivery(given_name=None, family_name=None,
                                           name="Мария Анна Ким"), deadline_s=5)
    user = moodle.user("123456782")
    assert user is not None and (user["firstname"], user["lastname"]) == ("Мария Анна", "Ким")


def test_the_standin_refuses_a_parameter_moodle_does_not_know(moodle: MoodleStandIn) -> None:
    """What makes the tests above prove that the connector sends only Moodle's parameters."""
    user = {"username": "123456782", "auth": "oauth2", "firstname": "A", "lastname": "S",
            "email": "a@tpu.ru", "idnumber": "123456782", "organization": "tpu"}
    with pytest.raises(NeverWorks, match=r"Unexpected keys \(organization\)"):
        moodle_ws.call(moodle.url + moodle_ws.ENDPOINT, TOKEN, "core_user_create_users",
                       {"users": [user]}, 5)
    assert moodle.site.users == {}


def test_moodle_down_is_retried_later(moodle: MoodleStandIn) -> None:
    moodle.http_status = 503
    with pytest.raises(RetryLater, match=r"^Moodle core_user_get_users_by_field: HTTP 503"):
        connector(moodle.url).deliver(delivery(), deadline_s=5)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens there once it is closed
    with pytest.raises(RetryLater, match="connection refused"):
        connector(f"http://127.0.0.1:{port}").deliver(delivery(), deadline_s=5)


def test_a_moodle_that_never_answers_is_retried_within_the_deadline() -> None:
    with hanging_proxy() as silent, pytest.raises(RetryLater, match="no answer in time"):
        connector(f"http://127.0.0.1:{silent.port}").deliver(delivery(), deadline_s=0.5)


def test_a_merge_suspends_the_absorbed_user_and_enrols_the_survivor(moodle: MoodleStandIn) -> None:
    """A merge ends the absorbed identity's grants (a revoke with nothing held; its person has
    no accounts left, so only the campus id) and starts the survivor's (docs/moodle.md)."""
    moodle_connector = connector(moodle.url)
    moodle_connector.deliver(delivery(campus_id="600946230", email="a.smirnova@tsu.ru"),
                             deadline_s=5)
    absorbed: dict[str, Any] = {"campus_id": "600946230", "sub": "Qq9", "name": None,
                                "email": None, "organizations": [], "affiliations": []}
    moodle_connector.deliver(Delivery(key="msg_2", kind=DeliveryKind.REVOKE, resource="hist101",
                                      grant={"state": "ended", "since": "2026-09-01", "until":
                                             "2026-10-01"}, person=absorbed, held=()),
                             deadline_s=5)
    moodle_connector.deliver(delivery(), deadline_s=5)  # the survivor's grant
    old, new = moodle.user("600946230"), moodle.user("123456782")
    assert old is not None and old["suspended"] is True
    old_enrolment = moodle.enrolment("600946230", HIST)
    assert old_enrolment is not None and old_enrolment.status == 1  # kept, with its grades
    assert new is not None and new["suspended"] is False
    new_enrolment = moodle.enrolment("123456782", HIST)
    assert new_enrolment is not None and new_enrolment.status == 0


def test_a_create_whose_answer_was_lost_is_not_repeated(moodle: MoodleStandIn) -> None:
    moodle.lose_answer.add("core_user_create_users")
    moodle_connector = connector(moodle.url)
    with pytest.raises(RetryLater, match="HTTP 502"):
        moodle_connector.deliver(delivery(), deadline_s=5)
    moodle_connector.deliver(delivery(), deadline_s=5)  # the retry finds the user made
    assert len(moodle.site.users) == 1
    assert functions(moodle).count("core_user_create_users") == 1
    enrolment = moodle.enrolment("123456782", HIST)
    assert enrolment is not None and enrolment.status == 0


def test_another_delivery_creating_the_user_first_is_no_failure(moodle: MoodleStandIn) -> None:
    """Between the lookup and the create, the user appears (with an older email): Moodle
    refuses the create, and the connector takes that user and brings it up to date."""
    def first(site: Any) -> None:
        site.users[site.next_id] = {
            "id": site.next_id, "username": "123456782", "auth": "oauth2", "firstname": "Анна",
            "lastname": "Смирнова", "email": "old@tpu.ru", "idnumber": "123456782",
            "lang": "en", "suspended": False}
        site.next_id += 1

    moodle.before["core_user_create_users"] = first
    moodle.debug = False  # Moodle's default: the refusal does not say why
    connector(moodle.url).deliver(delivery(), deadline_s=5)
    user = moodle.user("123456782")
    assert user is not None and user["email"] == "a.smirnova@tpu.ru"
    assert len(moodle.site.users) == 1
    assert moodle.enrolment("123456782", HIST) is not None
