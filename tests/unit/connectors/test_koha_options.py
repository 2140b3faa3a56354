"""What check-config says about a ``[connectors.X]`` table of type koha: every problem at once,
each as ``key: message``, never quoting a secret; and what the connector it builds shows."""

from __future__ import annotations

from typing import Any

from connectors import koha
from connectors.base import Connector, ListingConnector
from connectors.registry import CONNECTOR_TYPES

SECRET = "Zm9vYmFyLXNlY3JldC12YWx1ZQ"


def options(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"url": "https://koha.tsu.ru", "library_id": "TSU",
                            "category_id": "PT", "client_id": "campus-id",
                            "client_secret": SECRET}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def test_good_options_have_no_problem() -> None:
    assert koha.problems(options()) == []
    assert koha.problems(options(client_id=None, client_secret=None, user="campus_api",
                                 password=SECRET, timeout_s=60, open_expiry_days=365,
                                 category_ids={"staff": "STAFF", "student": "ST"})) == []


def test_every_problem_is_listed_at_once_without_the_secret() -> None:
    found = koha.problems({"url": "ftp://koha", "library_id": "", "category_ids": {"staff": 1},
                           "client_secret": SECRET, "user": "u", "timeout_s": 0,
                           "open_expiry_days": 0, "token": "t"})
    assert found == [
        "token: unknown key",
        "url: must be an http(s) URL",
        "library_id: required, Koha's code for it (a non-empty string)",
        "category_id: required, Koha's code for it (a non-empty string)",
        'category_ids: must be a table of affiliation = "CATEGORY" strings',
        "client_id: give either client_id and client_secret_file (OAuth2) or user and "
        "password_file (Basic), not both",
        "timeout_s: must be a number of seconds above 0 and at most 120",
        "open_expiry_days: must be a whole number of days from 1 to 36600",
    ]
    assert not any(SECRET in line for line in found)


def test_credentials_come_as_a_pair() -> None:
    assert koha.problems(options(client_secret=None)) == [
        "client_secret: required with client_id (from a _file)"]
    assert koha.problems(options(client_id=None, client_secret=None, user="campus_api")) == [
        "password: required with user (from a _file)"]
    assert koha.problems(options(client_id=None, client_secret=None)) == [
        "client_id: required (with client_secret_file), or user and password_file"]


def test_the_url_holds_no_credentials_or_query() -> None:
    assert koha.problems(options(url="https://api:pw@koha.tsu.ru")) == [
        "url: must not hold a user or password"]
    assert koha.problems(options(url="https://koha.tsu.ru/?x=1")) == [
        "url: must not hold a query or fragment"]
    assert koha.problems(options(url=None)) == ["url: required"]


def test_registered_and_fits_the_contract_with_secrets_out_of_repr() -> None:
    made = CONNECTOR_TYPES["koha"].create("library", options())
    assert isinstance(made, Connector) and made.name == "library"
    assert not isinstance(made, ListingConnector)
    assert SECRET not in repr(made) and "koha.tsu.ru" in repr(made)
    assert made.api == "https://koha.tsu.ru/api/v1"  # type: ignore[attr-defined]
