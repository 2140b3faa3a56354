"""The Moodle connector without a network: its options (every problem at once, the token never
quoted), the form body Moodle's REST server reads (PHP bracket arrays, as in Moodle's
"Creating a web service client" documentation and webservice/rest/locallib.php, Moodle 4.1),
what each kind of answer means for a retry, and the names Moodle requires."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from connectors import deadline_http, moodle_ws
from connectors.base import Connector, ListingConnector, NeverWorks, RetryLater
from connectors.moodle import moodle_names
from connectors.registry import CONNECTOR_TYPES

MOODLE = CONNECTOR_TYPES["moodle"]
GOOD = {"url": "https://moodle.tpu.ru/", "token": "0123456789abcdef0123456789abcdef"}


def test_good_options_build_a_connector_with_the_rest_endpoint() -> None:
    options = {**GOOD, "timeout_s": 3, "courses": {"hist101": 2}, "role_id": 5,
               "cohorts": {"tpu": "tpu-students"}, "auth": "oauth2"}
    assert MOODLE.problems(options) == []
    made = MOODLE.create("moodle", options)
    assert isinstance(made, Connector) and not isinstance(made, ListingConnector)
    assert made.name == "moodle"
    assert "https://moodle.tpu.ru/webservice/rest/server.php" in repr(made)
    assert GOOD["token"] not in repr(made)


def test_every_problem_is_listed_at_once_without_the_token() -> None:
    secret = "has a space"
    found = MOODLE.problems({"url": "ftp://moodle", "token": secret, "timeout_s": 0,
                             "courses": {"hist101": "2", "front": 1}, "role_id": True,
                             "cohorts": {"tpu": ""}, "auth": "webservice", "wstoken": "x"})
    assert found == [
        "wstoken: unknown key",
        "url: must be an http(s) URL: the Moodle site's address (its wwwroot)",
        "token: must be printable characters without spaces",
        "timeout_s: must be a number of seconds above 0 and at most 120",
        "courses.hist101: must be a Moodle course id, a whole number above 0",
        "courses.front: 1 is the site's front page, in which nobody can be enrolled",
        "cohorts.tpu: must be a cohort's idnumber (1 to 100 characters)",
        "role_id: must be a Moodle role id, a whole number above 0",
        "auth: must be the name of a Moodle authentication plugin (not mnet or webservice), "
        "e.g. oauth2",
    ]
    assert not any(secret in problem for problem in found)
    assert MOODLE.problems({}) == [
        "url: required (the Moodle site's address, e.g. https://moodle.tpu.ru)",
        "token: required (token_file: a file holding the web service token)"]
    assert MOODLE.problems({**GOOD, "url": "https://m.tpu.ru/webservice/rest/server.php"}) == [
        "url: the site's address only, without /webservice/rest/server.php, query or fragment"]
    with pytest.raises(ValueError, match="connector 'moodle': token: required"):
        MOODLE.create("moodle", {"url": GOOD["url"]})


def test_the_form_body_uses_php_bracket_arrays() -> None:
    body = moodle_ws.form_body("T0k", "core_user_create_users", {"users": [{
        "username": "123456782", "auth": "oauth2", "firstname": "Анна", "lastname": "Смирнова",
        "email": "a+b@tpu.ru", "idnumber": "123456782"}]})
    assert body.decode("ascii").startswith(
        "wstoken=T0k&wsfunction=core_user_create_users&moodlewsrestformat=json"
        "&users[0][username]=123456782&users[0][auth]=oauth2&users[0][firstname]=%D0%90")
    assert parse_qsl(body.decode()) == [
        ("wstoken", "T0k"), ("wsfunction", "core_user_create_users"),
        ("moodlewsrestformat", "json"), ("users[0][username]", "123456782"),
        ("users[0][auth]", "oauth2"), ("users[0][firstname]", "Анна"),
        ("users[0][lastname]", "Смирнова"), ("users[0][email]", "a+b@tpu.ru"),
        ("users[0][idnumber]", "123456782")]


def test_nested_lists_and_booleans() -> None:
    assert moodle_ws.form_pairs("members", [
        {"cohorttype": {"type": "idnumber", "value": "tpu-students"},
         "usertype": {"type": "id", "value": 4}}]) == [
        ("members[0][cohorttype][type]", "idnumber"),
        ("members[0][cohorttype][value]", "tpu-students"),
        ("members[0][usertype][type]", "id"), ("members[0][usertype][value]", "4")]
    assert moodle_ws.form_pairs("users", [{"id": 4, "suspended": True}, {"id": 5,
                                                                          "suspended": False}]) == [
        ("users[0][id]", "4"), ("users[0][suspended]", "1"),
        ("users[1][id]", "5"), ("users[1][suspended]", "0")]
    assert moodle_ws.form_pairs("values", ["a", "b"]) == [("values[0]", "a"), ("values[1]", "b")]


def answer(status: int, body: bytes) -> deadline_http.Answer:
    return deadline_http.Answer(status, {}, body)


def test_answers_and_what_they_mean() -> None:
    judge = moodle_ws.judge
    assert judge("f", answer(200, b"null")) is None
    assert judge("f", answer(200, b'{"warnings":[]}')) == {"warnings": []}
    with pytest.raises(NeverWorks) as never:
        judge("f", answer(200, b'{"exception":"invalid_parameter_exception","errorcode":'
                               b'"invalidparameter","message":"Invalid parameter value detected",'
                               b'"debuginfo":"Username already exists: 1"}'))
    assert str(never.value) == ("Moodle f: invalidparameter: Invalid parameter value detected "
                                "(Username already exists: 1)")
    with pytest.raises(RetryLater, match="sitemaintenance"):
        judge("f", answer(200, b'{"exception":"moodle_exception","errorcode":"sitemaintenance",'
                               b'"message":"The site is undergoing maintenance"}'))
    with pytest.raises(RetryLater, match=r"^Moodle f: not a JSON answer: <html>"):
        judge("f", answer(200, b"<html>Error: Database connection failed</html>"))
    with pytest.raises(RetryLater, match=r"^Moodle f: HTTP 502: bad gateway$"):
        judge("f", answer(502, b"bad gateway"))
    with pytest.raises(RetryLater, match="HTTP 429"):
        judge("f", answer(429, b""))
    with pytest.raises(NeverWorks, match=r"^Moodle f: HTTP 404$"):
        judge("f", answer(404, b""))
    with pytest.raises(NeverWorks, match=r"^Moodle f: HTTP 303 to https://m/x: check the "):
        judge("f", deadline_http.Answer(303, {"location": "https://m/x"}, b""))
    with pytest.raises(NeverWorks, match="longer than"):
        judge("f", answer(200, b"[" + b" " * moodle_ws.KEEP_BYTES + b"]"))


def test_names_moodle_requires_both_of() -> None:
    assert moodle_names({"given_name": "Анна", "family_name": "Смирнова"}) == ("Анна", "Смирнова")
    assert moodle_names({"name": "Мария Анна Ким"}) == ("Мария Анна", "Ким")
    assert moodle_names({"given_name": "Анна", "name": "Анна Смирнова"}) == ("Анна", "Смирнова")
    assert moodle_names({"name": "Madonna"}) == ("Madonna", "-")
    assert moodle_names({"campus_id": "123456782"}) == ("123456782", "-")


def test_the_example_configuration_block_is_valid() -> None:
    """config/idp.example.toml's commented [connectors.moodle], uncommented, passes."""
    text = (Path(__file__).resolve().parents[3] / "config" / "idp.example.toml").read_text("utf-8")
    block = text.split("# [connectors.moodle]\n", 1)[1].split("\n\n", 1)[0]
    settings = [line[2:] for line in block.splitlines()
                if re.fullmatch(r"# [a-z_]+ = .*", line) and not line.startswith("# type")]
    options = tomllib.loads("\n".join(settings))
    assert set(options) == {"url", "token_file", "timeout_s", "courses", "role_id", "cohorts",
                            "auth"}
    options["token"] = options.pop("token_file")  # the file's content, as the loader reads it
    assert MOODLE.problems(options) == []
