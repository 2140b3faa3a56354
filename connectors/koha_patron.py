"""What the Koha connector writes into a patron: the fields it manages and their values.

Only fields of Koha's patron definition (``api/v1/swagger/definitions/patron.yaml``, which
refuses any other with ``additionalProperties: false``) are sent: ``surname``,
``firstname``, ``userid`` (the campus id: how the connector finds its patron again),
``cardnumber`` (the campus card's number; left out while the person has none, so Koha keeps
what it has), ``email`` (left out while unknown), ``library_id``, ``category_id`` and
``expiry_date``. A PUT is validated against the same definition, so it carries the three
fields the definition requires (``surname``, ``library_id``, ``category_id``) too; Koha's
``set_from_api`` changes only the fields a body names, so the patron's other fields (address,
notes, messaging...) are kept without being sent back.

Expiry (Koha refuses checkouts to a patron whose ``expiry_date`` is before today): the last
day the grant holds when it has an end (``grant.until``, e.g. in grace), else
``open_expiry_days`` from today, written again on each grant delivery; a revoke sets it two
days back, which is in the past in every time zone Koha may run in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

REVOKE_DAYS_BACK = 2


def category_for(affiliations: Sequence[str], category_id: str,
                 category_ids: Mapping[str, str]) -> str:
    """The category of the first key of ``category_ids`` (the operator's order of priority)
    that the person has as an affiliation (``student`` matches ``student@tpu.ru``)."""
    held = {str(a).split("@", 1)[0].strip().lower() for a in affiliations}
    for affiliation, category in category_ids.items():
        if affiliation.lower() in held:
            return category
    return category_id


def expiry_for_grant(grant: Mapping[str, Any], today: date, open_expiry_days: int) -> str:
    """``YYYY-MM-DD``: the last day within ``grant.until``, or ``open_expiry_days`` ahead."""
    until = grant.get("until")
    if isinstance(until, str) and until:
        end = datetime.fromisoformat(until)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return (end - timedelta(microseconds=1)).date().isoformat()
    return (today + timedelta(days=open_expiry_days)).isoformat()


def expiry_for_revoke(today: date) -> str:
    return (today - timedelta(days=REVOKE_DAYS_BACK)).isoformat()


def wanted(person: Mapping[str, Any], *, library_id: str, category_id: str,
           expiry_date: str) -> dict[str, Any]:
    """The patron body of a grant for a patron that does not exist yet."""
    family, given, name = (person.get(k) for k in ("family_name", "given_name", "name"))
    body: dict[str, Any] = {
        "surname": str(family or name or person["campus_id"]),
        "userid": str(person["campus_id"]),
        "library_id": library_id,
        "category_id": category_id,
        "expiry_date": expiry_date,
    }
    if family and given:
        body["firstname"] = str(given)
    if person.get("card_number"):
        body["cardnumber"] = str(person["card_number"])
    if person.get("email"):
        body["email"] = str(person["email"])
    return body


def update_of(found: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any] | None:
    """The PUT body that brings ``found`` to ``want`` (the patron's own ``library_id`` kept),
    or None when nothing it manages differs."""
    body = {**want, "library_id": found.get("library_id") or want["library_id"]}
    if all(found.get(key) == value for key, value in body.items()):
        return None
    return body


def revoked(found: Mapping[str, Any], today: date) -> dict[str, Any] | None:
    """The PUT body that makes ``found`` expired, or None when it already is."""
    expiry = expiry_for_revoke(today)
    current = found.get("expiry_date")
    if isinstance(current, str) and current and current <= expiry:
        return None
    return {"surname": found.get("surname"), "library_id": found.get("library_id"),
            "category_id": found.get("category_id"), "expiry_date": expiry}
