"""Roles a client may hold on the API: ``helpdesk`` acts on every identity, ``helpdesk:ORG``
only on identities with an account of organization ORG; ``consortium_admin`` manages every
relying party, ``org_admin:ORG`` those of ORG (``/api/v1/clients``)."""

from __future__ import annotations

from collections.abc import Collection

ROLE_NAMES = ("helpdesk", "consortium_admin", "org_admin")
NEEDS_ORG = ("org_admin",)
NO_ORG = ("consortium_admin",)


def role_problem(role: str, organizations: Collection[str]) -> str | None:
    """Why ``role`` is not a role of this deployment, or None when it is one."""
    name, _, org = role.partition(":")
    if name not in ROLE_NAMES:
        return (f"{role!r}: unknown role (known: helpdesk, helpdesk:ORG, consortium_admin, "
                "org_admin:ORG)")
    if name in NEEDS_ORG and ":" not in role:
        return f"{role!r}: write {name}:ORG, naming the organization"
    if name in NO_ORG and ":" in role:
        return f"{role!r}: {name} is for every organization; use org_admin:ORG for one"
    if ":" in role and org not in organizations:
        return f"{role!r}: {org!r} is not a configured organization"
    return None
