"""The Moodle stand-in gives, byte for byte, the answers a real Moodle 4.1.10 site gave to the
same calls (recorded in the shared moodle/README.md, "Web services: ground truth", from its
validate.sh: a fresh site, user ids 1-3 taken, course 2 with manual enrolment, cohort
tpu-students), and refuses what Moodle's parameter validation refuses (lib/externallib.php
``validate_parameters``, Moodle 4.1)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.support.moodle_standin import MoodleStandIn

TOKEN = "0123456789abcdef0123456789abcdee"
IMAGES = "http:\\/\\/127.0.0.1:18081\\/theme\\/image.php\\/boost\\/core\\/1796189573\\/u\\/"
VZHUKOV = ('{"id":4,"username":"600946230","firstname":"\\u0412\\u0438\\u043a\\u0442\\u043e\\u0440",'
           '"lastname":"\\u0416\\u0443\\u043a\\u043e\\u0432","fullname":"\\u0412\\u0438\\u043a\\u0442'
           '\\u043e\\u0440 \\u0416\\u0443\\u043a\\u043e\\u0432","email":"vzhukov@tpu.ru",'
           '"department":"","idnumber":"600946230","firstaccess":0,"lastaccess":0,"auth":"oauth2",'
           '"suspended":SUSPENDED,"confirmed":true,"lang":"en","theme":"","timezone":"99",'
           f'"mailformat":1,"profileimageurlsmall":"{IMAGES}f2","profileimageurl":"{IMAGES}f1"}}')
ADD_MEMBER = {"members[0][cohorttype][type]": "idnumber",
              "members[0][cohorttype][value]": "tpu-students",
              "members[0][usertype][type]": "username", "members[0][usertype][value]": "600946230"}
# (call, arguments, the recorded answer), in validate.sh's order
RECORDED: list[tuple[str, dict[str, str], str]] = [
    ("core_user_create_users", {
        "users[0][username]": "600946230", "users[0][auth]": "oauth2",
        "users[0][firstname]": "Виктор", "users[0][lastname]": "Жуков",
        "users[0][email]": "vzhukov@tpu.ru", "users[0][idnumber]": "600946230"},
     '[{"id":4,"username":"600946230"}]'),
    ("core_user_create_users", {
        "users[0][username]": "600946230", "users[0][auth]": "oauth2",
        "users[0][firstname]": "Виктор", "users[0][lastname]": "Жуков",
        "users[0][email]": "other@tpu.ru"},
     '{"exception":"invalid_parameter_exception","errorcode":"invalidparameter","message":'
     '"Invalid parameter value detected","debuginfo":"Username already exists: 600946230"}'),
    ("core_user_create_users", {
        "users[0][username]": "VZhukov", "users[0][auth]": "oauth2",
        "users[0][firstname]": "Viktor", "users[0][lastname]": "Zhukov",
        "users[0][email]": "vz2@tpu.ru"},
     '{"exception":"invalid_parameter_exception","errorcode":"invalidparameter","message":'
     '"Invalid parameter value detected","debuginfo":"users => Invalid parameter value detected: '
     'username => Invalid parameter value detected: Invalid external api parameter: the value is '
     '\\"VZhukov\\", the server was expecting \\"username\\" type"}'),
    ("core_user_create_users", {
        "users[0][username]": "someone.else", "users[0][auth]": "oauth2",
        "users[0][firstname]": "Some", "users[0][lastname]": "One",
        "users[0][email]": "vzhukov@tpu.ru"},
     '{"exception":"invalid_parameter_exception","errorcode":"invalidparameter","message":'
     '"Invalid parameter value detected","debuginfo":"Email address already exists: '
     'vzhukov@tpu.ru"}'),
    ("core_user_get_users_by_field", {"field": "username", "values[0]": "600946230"},
     f"[{VZHUKOV.replace('SUSPENDED', 'false')}]"),
    ("core_cohort_add_cohort_members", ADD_MEMBER, '{"warnings":[]}'),
    ("core_cohort_add_cohort_members", ADD_MEMBER,
     '{"warnings":[{"warningcode":"3","message":"record already exists: '
     'cohort(idnumber=tpu-students username=600946230)"}]}'),
    ("core_cohort_add_cohort_members", {**ADD_MEMBER,
                                        "members[0][cohorttype][value]": "no-such-cohort"},
     '{"warnings":[{"warningcode":"2","message":"cohort idnumber=no-such-cohort not exists"}]}'),
    ("enrol_manual_enrol_users", {"enrolments[0][roleid]": "5", "enrolments[0][userid]": "4",
                                  "enrolments[0][courseid]": "2"}, "null"),
    ("enrol_manual_enrol_users", {"enrolments[0][roleid]": "5", "enrolments[0][userid]": "4",
                                  "enrolments[0][courseid]": "2"}, "null"),
    ("core_user_update_users", {"users[0][id]": "4", "users[0][suspended]": "1"},
     '{"warnings":[]}'),
    ("core_user_update_users", {"users[0][id]": "99999", "users[0][suspended]": "1"},
     '{"warnings":[{"item":"user","itemid":99999,"warningcode":"invaliduserid",'
     '"message":"Invalid user ID"}]}'),
    ("core_user_get_users_by_field", {"field": "id", "values[0]": "4"},
     f"[{VZHUKOV.replace('SUSPENDED', 'true')}]"),
]


@pytest.fixture
def moodle() -> Iterator[MoodleStandIn]:
    standin = MoodleStandIn(TOKEN, cohorts=("tpu-students",), courses=(2,))
    yield standin
    standin.close()


def post(moodle: MoodleStandIn, fields: dict[str, str]) -> tuple[int, str, str]:
    """Status, content type and body of one form POST to the REST endpoint."""
    connection = http.client.HTTPConnection("127.0.0.1", moodle.httpd.server_address[1], timeout=5)
    try:
        connection.request("POST", "/webservice/rest/server.php", body=urlencode(fields),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-type") or "", answer.read().decode()
    finally:
        connection.close()


def call(moodle: MoodleStandIn, function: str, arguments: dict[str, str],
         token: str = TOKEN) -> str:
    status, kind, body = post(moodle, {"wstoken": token, "wsfunction": function,
                                       "moodlewsrestformat": "json", **arguments})
    assert (status, kind) == (200, "application/json")  # Moodle: 200 for errors too
    return body.replace(moodle.url.replace("/", "\\/"), "http:\\/\\/127.0.0.1:18081")


def test_the_recorded_calls_get_the_recorded_answers(moodle: MoodleStandIn) -> None:
    for function, arguments, recorded in RECORDED:
        assert call(moodle, function, arguments) == recorded, (function, arguments)
    assert moodle.cohort_members("tpu-students") == {"600946230"}
    enrolment = moodle.enrolment("600946230", 2)
    assert enrolment is not None and (enrolment.status, enrolment.roles) == (0, {5})


def test_a_wrong_token_and_a_function_outside_the_service(moodle: MoodleStandIn) -> None:
    assert call(moodle, "core_user_get_users_by_field", {}, token="0" * 32) == (
        '{"exception":"moodle_exception","errorcode":"invalidtoken",'
        '"message":"Invalid token - token not found"}')
    answer = call(moodle, "core_user_delete_users", {"userids[0]": "1"})
    assert answer.startswith('{"exception":"webservice_access_exception","errorcode":'
                             '"accessexception","message":"Access control exception","debuginfo":'
                             '"Access to the function core_user_delete_users() is not allowed.')


def test_without_site_debugging_the_reason_is_not_sent(moodle: MoodleStandIn) -> None:
    """As recorded with ``$CFG->debug = 0``: no ``debuginfo``."""
    moodle.debug = False
    user = {"users[0][username]": "VZhukov", "users[0][auth]": "oauth2",
            "users[0][firstname]": "V", "users[0][lastname]": "Z", "users[0][email]": "v@tpu.ru"}
    assert call(moodle, "core_user_create_users", user) == (
        '{"exception":"invalid_parameter_exception","errorcode":"invalidparameter",'
        '"message":"Invalid parameter value detected"}')
    assert call(moodle, "core_user_delete_users", {}) == (
        '{"exception":"webservice_access_exception","errorcode":"accessexception",'
        '"message":"Access control exception"}')


def test_unknown_and_missing_keys_are_refused(moodle: MoodleStandIn) -> None:
    user = {"users[0][username]": "600946230", "users[0][firstname]": "V",
            "users[0][lastname]": "Z", "users[0][email]": "v@tpu.ru", "users[0][auth]": "oauth2"}
    assert '"debuginfo":"users => Invalid parameter value detected: Unexpected keys (nickname) ' \
           'detected in parameter array."' in call(
               moodle, "core_user_create_users", {**user, "users[0][nickname]": "vz"})
    assert '"debuginfo":"Unexpected keys (extra) detected in parameter array."' in call(
        moodle, "core_user_get_users_by_field", {"field": "id", "values[0]": "4", "extra": "1"})
    del user["users[0][email]"]
    assert ('"debuginfo":"users => Invalid parameter value detected: Missing required key in '
            'single structure: email"') in call(moodle, "core_user_create_users", user)
    assert moodle.user("600946230") is None


def test_create_users_is_all_or_nothing(moodle: MoodleStandIn) -> None:
    both = {"users[0][username]": "111", "users[0][auth]": "oauth2", "users[0][firstname]": "A",
            "users[0][lastname]": "B", "users[0][email]": "a@tpu.ru",
            "users[1][username]": "222", "users[1][auth]": "oauth2", "users[1][firstname]": "C",
            "users[1][lastname]": "D", "users[1][email]": "not an address"}
    assert '"debuginfo":"Email address is invalid: not an address"' in call(
        moodle, "core_user_create_users", both)
    assert moodle.user("111") is None and moodle.user("222") is None


def test_the_rest_protocol_off_is_a_bare_403(moodle: MoodleStandIn) -> None:
    moodle.rest_enabled = False
    assert post(moodle, {"wstoken": TOKEN, "wsfunction": "core_user_get_users_by_field"}) == (
        403, "", "")
