"""Koha's patron object and the checks its REST API makes on a patron body, for the stand-in.

Derived (our own table, not a copy) from Koha's published API definition, Koha-Community/Koha
``api/v1/swagger/definitions/patron.yaml`` as stored at commit
131ff0f4025eec5ac7d4b72c9add0e73d76cd7eb (Koha main of the 24.11/25.05 era: it has
``preferred_name``, ``pronouns`` and ``protected``): every property with its JSON types, its
``format`` and ``readOnly``; ``additionalProperties: false``; ``required: [surname,
library_id, category_id]``. Koha is GPL-3.0; this file holds only the field list and our code.

The error shapes are those of Mojolicious::Plugin::OpenAPI with JSON::Validator, which Koha
loads in ``Koha/REST/V1.pm``: ``400 {"errors": [{"message", "path"}], "status": 400}``, e.g.
``Properties not allowed: falseproperty.`` at ``/body`` (Koha's own test
``t/db_dependent/api/v1/patrons.t`` asserts that message), ``Missing property.`` at
``/body/surname``, ``Read-only.``, ``Expected string/null - got integer.`` and
``Does not match date format.`` (the wording of JSON::Validator's messages as far as we could
read them; a connector must not depend on it).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

S, N, B, INT, ARR, OBJ = "string", "null", "boolean", "integer", "array", "object"
# name: (types, format, readOnly)
PATRON: dict[str, tuple[tuple[str, ...], str | None, bool]] = {
    "patron_id": ((INT,), None, False),
    **{name: ((S, N), None, False) for name in (
        "cardnumber", "surname", "firstname", "preferred_name", "middle_name", "title",
        "other_name", "initials", "pronouns", "street_number", "street_type", "address",
        "address2", "city", "state", "postal_code", "country", "email", "phone", "mobile", "fax",
        "secondary_email", "secondary_phone", "altaddress_street_number",
        "altaddress_street_type", "altaddress_address", "altaddress_address2", "altaddress_city",
        "altaddress_state", "altaddress_postal_code", "altaddress_country", "altaddress_email",
        "altaddress_phone", "staff_notes", "relationship_type", "gender", "userid", "opac_notes",
        "altaddress_notes", "statistics_1", "statistics_2", "altcontact_firstname",
        "altcontact_surname", "altcontact_address", "altcontact_address2", "altcontact_city",
        "altcontact_state", "altcontact_postal_code", "altcontact_country", "altcontact_phone",
        "sms_number", "overdrive_auth_token")},
    "date_of_birth": ((S, N), "date", False),
    "library_id": ((S,), None, False),
    "category_id": ((S,), None, False),
    "date_enrolled": ((S, N), "date", False),
    "expiry_date": ((S, N), "date", False),
    "date_renewed": ((S, N), "date", False),
    "incorrect_address": ((B, N), None, False),
    "patron_card_lost": ((B, N), None, False),
    "restricted": ((B,), None, True),
    "autorenew_checkouts": ((B,), None, False),
    "sms_provider_id": ((INT, N), None, False),
    "privacy": ((INT,), None, False),
    "privacy_guarantor_checkouts": ((INT,), None, False),
    "privacy_guarantor_fines": ((B,), None, False),
    "check_previous_checkout": ((S,), None, False),
    "updated_on": ((S,), "date-time", False),
    "last_seen": ((S, N), "date-time", False),
    "lang": ((S,), None, False),
    "login_attempts": ((INT, N), None, False),
    "anonymized": ((B,), None, True),
    "extended_attributes": ((ARR,), None, False),
    "checkouts_count": ((INT, N), None, False),
    "overdues_count": ((INT, N), None, False),
    "account_balance": (("number", N), None, False),
    "library": ((OBJ, N), None, False),
    "protected": ((B,), None, False),
    "_strings": ((OBJ, N), None, False),
}
REQUIRED = ("surname", "library_id", "category_id")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                        r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


def json_schema() -> dict[str, Any]:
    """The same definition as a JSON Schema document (for a check by an independent validator)."""
    properties: dict[str, Any] = {}
    for name, (types, fmt, read_only) in PATRON.items():
        prop: dict[str, Any] = {"type": list(types) if len(types) > 1 else types[0]}
        if fmt:
            prop["format"] = fmt
        if read_only:
            prop["readOnly"] = True
        properties[name] = prop
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": list(REQUIRED)}


def json_type(value: object) -> str:
    if value is None:
        return N
    if isinstance(value, bool):
        return B
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return S
    return ARR if isinstance(value, list) else OBJ


def errors_in(body: object) -> list[dict[str, str]]:
    """What Koha's OpenAPI validation says of a request body for POST or PUT /patrons."""
    if not isinstance(body, dict):
        return [{"message": f"Expected object - got {json_type(body)}.", "path": "/body"}]
    found: list[dict[str, str]] = []
    extra = sorted(set(body) - set(PATRON))
    if extra:
        found.append({"message": f"Properties not allowed: {', '.join(extra)}.", "path": "/body"})
    found += [{"message": "Missing property.", "path": f"/body/{name}"}
              for name in REQUIRED if name not in body]
    for name, value in body.items():
        if name not in PATRON:
            continue
        types, fmt, read_only = PATRON[name]
        path = f"/body/{name}"
        if read_only:
            found.append({"message": "Read-only.", "path": path})
            continue
        got = json_type(value)
        if got not in types and not (got == INT and "number" in types):
            found.append({"message": f"Expected {'/'.join(types)} - got {got}.", "path": path})
        elif isinstance(value, str) and (problem := _format_problem(fmt, value)):
            found.append({"message": problem, "path": path})
    return found


def _format_problem(fmt: str | None, value: str) -> str | None:
    if fmt == "date":
        match = _DATE.fullmatch(value)
        if not match:
            return "Does not match date format."
        year, month, day = (int(part) for part in match.groups())
        if not 1 <= month <= 12:
            return "Month out of range."
        try:
            date(max(year, 1), month, day)
        except ValueError:
            return "Day out of range."
    elif fmt == "date-time" and not _DATE_TIME.fullmatch(value):
        return "Does not match date-time format."
    return None
