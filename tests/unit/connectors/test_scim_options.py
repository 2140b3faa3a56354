"""The scim connector's options and the documents it builds, without a server: every problem at
once with the token never quoted; the User of RFC 7643 section 4.1 with the enterprise extension
of section 4.3; filters quoted as RFC 7644 section 3.4.2.2 says (a JSON string); the PatchOp of
section 3.5.2; the ListResponse of section 3.4.2 read or refused."""

from __future__ import annotations

import json

import pytest

from connectors import scim, scim_resource
from connectors.base import Connector, ListingConnector
from connectors.registry import CONNECTOR_TYPES

GOOD = {"url": "https://lib.example/scim/v2", "token": "s3cr3t-token", "timeout_s": 3,
        "organization_names": {"tpu": "Tomsk Polytechnic University"}}


def test_good_options_build_a_listing_connector_that_hides_its_token() -> None:
    assert CONNECTOR_TYPES["scim"].problems(GOOD) == []
    made = CONNECTOR_TYPES["scim"].create("library_scim", GOOD)
    assert isinstance(made, Connector) and isinstance(made, ListingConnector)
    assert made.name == "library_scim"
    assert "s3cr3t-token" not in repr(made) and "lib.example" in repr(made)


def test_every_problem_is_listed_at_once_without_the_token() -> None:
    found = scim.problems({"url": "ftp://lib.example", "token": "bad token",
                           "timeout_s": 0, "organization_names": {"tpu": 1}, "colour": "red"})
    assert found == [
        "colour: unknown key",
        "url: must be an https URL (http only with allow_insecure = true)",
        "token: must be one line of printable characters without spaces",
        "timeout_s: must be a number of seconds above 0 and at most 120",
        'organization_names: must be a table of organization id = "name"']
    assert not any("bad token" in problem for problem in found)
    assert scim.problems({}) == ["url: required",
                                 "token: required (token_file: a file holding the bearer token)"]


def test_plain_http_needs_allow_insecure_and_a_url_holds_no_credentials() -> None:
    http = {**GOOD, "url": "http://127.0.0.1:8080/scim/v2"}
    assert scim.problems(http) == [
        "url: must be an https URL (http only with allow_insecure = true)"]
    assert scim.problems({**http, "allow_insecure": True}) == []
    assert scim.problems({**http, "allow_insecure": "yes"}) == [
        "allow_insecure: must be true or false",
        "url: must be an https URL (http only with allow_insecure = true)"]
    assert scim.problems({**GOOD, "url": "https://u:p@lib.example/scim"}) == [
        "url: must not hold a user or password"]
    assert scim.problems({**GOOD, "url": "https://lib.example/scim?x=1"}) == [
        "url: must not hold a query or fragment"]
    with pytest.raises(ValueError, match="connector 'x': url: required"):
        scim.create("x", {"token": "t"})


PERSON = {"campus_id": "123456782", "name": "Анна Смирнова", "email": "anna@tpu.ru",
          "given_name": "Анна", "family_name": "Смирнова", "home_organization": "tpu",
          "card_number": "9001234567897"}


def test_the_user_carries_every_attribute_the_person_has() -> None:
    user = scim_resource.user(PERSON, {"tpu": "Tomsk Polytechnic University"})
    assert user == {
        "schemas": [scim_resource.USER_SCHEMA, scim_resource.ENTERPRISE_SCHEMA],
        "externalId": "123456782", "userName": "123456782", "active": True,
        "name": {"givenName": "Анна", "familyName": "Смирнова", "formatted": "Анна Смирнова"},
        "displayName": "Анна Смирнова",
        "emails": [{"value": "anna@tpu.ru", "type": "work", "primary": True}],
        scim_resource.ENTERPRISE_SCHEMA: {"employeeNumber": "9001234567897",
                                          "organization": "Tomsk Polytechnic University"}}


def test_what_the_person_lacks_is_left_out() -> None:
    bare = scim_resource.user({"campus_id": "123456782", "card_number": None, "email": None,
                               "name": None, "home_organization": None}, {})
    assert bare == {"schemas": [scim_resource.USER_SCHEMA, scim_resource.ENTERPRISE_SCHEMA],
                    "externalId": "123456782", "userName": "123456782", "active": True}
    unnamed = scim_resource.user({**PERSON, "card_number": None}, {})
    assert unnamed[scim_resource.ENTERPRISE_SCHEMA] == {"organization": "tpu"}


def test_a_filter_value_is_a_json_string_so_it_cannot_end_the_comparison() -> None:
    assert scim_resource.equals("externalId", "123456782") == 'externalId eq "123456782"'
    tricky = 'x" or userName pr or externalId eq "\\'
    built = scim_resource.equals("externalId", tricky)
    assert built == 'externalId eq "x\\" or userName pr or externalId eq \\"\\\\"'
    assert json.loads(built.removeprefix("externalId eq ")) == tricky


def test_deactivation_is_one_replace_of_active() -> None:
    assert scim_resource.deactivation() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}]}


def test_a_list_response_is_read_and_anything_else_refused() -> None:
    page = {"schemas": [scim_resource.LIST_SCHEMA], "totalResults": 1,
            "Resources": [{"id": "a", "externalId": "123456782"}]}
    assert scim_resource.listed(page) == ([{"id": "a", "externalId": "123456782"}], 1)
    assert scim_resource.listed({"schemas": [scim_resource.LIST_SCHEMA], "totalResults": 0}) == (
        [], 0)
    bad_answers: list[object] = [None, [], {"totalResults": 1}, {**page, "totalResults": "1"},
                                 {**page, "Resources": "x"}]
    for bad in bad_answers:
        with pytest.raises(ValueError):
            scim_resource.listed(bad)
