"""The stand-in Koha checks patron bodies as Koha's definition says (tests/support/koha_schema.py,
derived from Koha-Community/Koha ``api/v1/swagger/definitions/patron.yaml`` at 131ff0f4): its
own validator agrees with an independent JSON Schema validator (jsonschema_rs) on the same
definition, body by body, and keeps the facts the connector relies on."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from tests.support import koha_schema

GOOD = {"surname": "Сидоров", "library_id": "TSU", "category_id": "ST"}
BODIES: list[dict[str, Any]] = [
    GOOD,
    {**GOOD, "firstname": "Иван", "userid": "100000017", "cardnumber": "2000000045",
     "email": "ivan@tsu.ru", "expiry_date": "2031-12-02"},
    {**GOOD, "expiry_date": None, "email": None},
    {**GOOD, "campus_id": "100000017"},
    {**GOOD, "extended_attributes": [{"type": "CAMPUS", "value": "1"}]},
    {"surname": "Сидоров"},
    {"expiry_date": "2031-12-02"},
    {**GOOD, "surname": None},
    {**GOOD, "library_id": None},
    {**GOOD, "expiry_date": "2031-12-02T00:00:00+00:00"},
    {**GOOD, "expiry_date": "2031-13-02"},
    {**GOOD, "expiry_date": "2031-02-30"},
    {**GOOD, "date_of_birth": "02.12.2001"},
    {**GOOD, "cardnumber": 2000000045},
    {**GOOD, "patron_card_lost": "yes"},
    {**GOOD, "privacy": 1.5},
    {**GOOD, "account_balance": 3},
    {**GOOD, "last_seen": "2026-12-02T10:00:00Z"},
]


@pytest.mark.parametrize("body", BODIES)
def test_the_stand_in_and_an_independent_validator_agree(body: dict[str, Any]) -> None:
    independent = jsonschema_rs.Draft4Validator(koha_schema.json_schema(), validate_formats=True)
    assert (koha_schema.errors_in(body) == []) == independent.is_valid(body)


def test_read_only_fields_are_refused_in_a_request_as_json_validator_does() -> None:
    assert koha_schema.errors_in({**GOOD, "restricted": False}) == [
        {"message": "Read-only.", "path": "/body/restricted"}]


def test_the_facts_the_connector_relies_on() -> None:
    schema = koha_schema.json_schema()
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["surname", "library_id", "category_id"]
    managed = ("surname", "firstname", "userid", "cardnumber", "email", "library_id",
               "category_id", "expiry_date")
    assert set(managed) <= set(schema["properties"])
    assert schema["properties"]["expiry_date"] == {"type": ["string", "null"], "format": "date"}
    assert koha_schema.errors_in({**GOOD, "campus_id": "1", "card": "2"}) == [
        {"message": "Properties not allowed: campus_id, card.", "path": "/body"}]
