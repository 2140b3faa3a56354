"""Roles a client may hold on the helpdesk API: ``helpdesk`` acts on every identity,
``helpdesk:ORG`` only on identities with an account of organization ORG."""

from __future__ import annotations

from collections.abc import Collection

ROLE_NAMES = ("helpdesk",)


def role_problem(role: str, organizations: Collection[str]) -> str | None:
    """Why ``role`` is not a role of this deployment, or None when it is one."""
    name, _, org = role.partition(":")
    if name not in ROLE_NAMES:
        return f"{role!r}: unknown role (known: {', '.join(ROLE_NAMES)}, each optionally :ORG)"
    if ":" in role and org not in organizations:
        return f"{role!r}: {org!r} is not a configured organization"
    return None
