"""The SCIM 2.0 documents the ``scim`` connector sends, built from a delivery's person (pure).

One User per person (RFC 7643 section 4.1) keyed by ``externalId`` = the campus id (section
3.1); ``userName`` is the campus id too, never the email: it must stay unique and stable at the
library for the person's whole life, and an email changes (a new university, a new name) and
may later be given to somebody else, while a campus id is never reused and is what the card
carries. Filters quote their value as a JSON string (RFC 7644 section 3.4.2.2), so a quote or
backslash in it cannot end the comparison.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def user(person: Mapping[str, Any], organization_names: Mapping[str, str]) -> dict[str, Any]:
    """The whole User for a PUT or POST (RFC 7644 sections 3.3 and 3.5.1), active.

    Attributes the person lacks are left out rather than sent empty: ``emails`` without an
    email, ``employeeNumber`` before a card is issued, ``organization`` without a home one.
    The organization is its display name from ``organization_names``, else its id.
    """
    campus_id = str(person["campus_id"])
    resource: dict[str, Any] = {"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                                "externalId": campus_id, "userName": campus_id, "active": True}
    name = {key: person.get(field) for key, field in (
        ("givenName", "given_name"), ("familyName", "family_name"), ("formatted", "name"))}
    if any(name.values()):
        resource["name"] = {key: value for key, value in name.items() if value}
    if person.get("name"):
        resource["displayName"] = person["name"]
    if person.get("email"):
        resource["emails"] = [{"value": person["email"], "type": "work", "primary": True}]
    enterprise: dict[str, str] = {}
    if person.get("card_number"):
        enterprise["employeeNumber"] = str(person["card_number"])
    if home := person.get("home_organization"):
        enterprise["organization"] = organization_names.get(home, str(home))
    if enterprise:
        resource[ENTERPRISE_SCHEMA] = enterprise
    return resource


def deactivation() -> dict[str, Any]:
    """The PatchOp that sets ``active`` to false (RFC 7644 section 3.5.2.3, replace)."""
    return {"schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "active", "value": False}]}


def equals(attribute: str, value: str) -> str:
    """``attribute eq "value"`` with the value as a JSON string (RFC 7644 section 3.4.2.2)."""
    return f"{attribute} eq {json.dumps(value)}"


def listed(body: Any) -> tuple[list[dict[str, Any]], int]:
    """The resources of a ListResponse and its ``totalResults`` (RFC 7644 section 3.4.2);
    ``ValueError`` for anything else."""
    if not isinstance(body, dict) or LIST_SCHEMA not in body.get("schemas", ()):
        raise ValueError("the answer is no SCIM ListResponse")
    resources = body.get("Resources", [])
    total = body.get("totalResults")
    if (not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources)
            or isinstance(total, bool) or not isinstance(total, int)):
        raise ValueError("the ListResponse has no Resources list or totalResults")
    return resources, total
