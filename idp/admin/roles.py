"""Staff roles: ``consortium_admin`` (everything) and ``org_admin`` of an organization (its
clients, registration tokens and release policy, nothing else).

Roles come from the identity's linked accounts: an account listed in ``[roles]`` (by
``org:username``), or one that is a member of its organization's ``admin_group_dn`` (asked of
the directory). An unreachable directory grants nothing from its group and is logged; the
roles from the configuration still apply.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from idp.directory.base import GroupDirectory
from idp.errors import DirectoryUnavailable
from idp.settings import Settings

log = logging.getLogger(__name__)


class Role(StrEnum):
    CONSORTIUM_ADMIN = "consortium_admin"
    ORG_ADMIN = "org_admin"


@dataclass(frozen=True)
class StaffRoles:
    consortium_admin: bool = False
    org_admin_of: frozenset[str] = frozenset()

    @property
    def is_staff(self) -> bool:
        return self.consortium_admin or bool(self.org_admin_of)

    def can_manage(self, organization: str | None) -> bool:
        """A client without organization (a consortium client) is the consortium's."""
        if self.consortium_admin:
            return True
        return organization is not None and organization in self.org_admin_of

    def organizations(self, configured: Iterable[str]) -> list[str]:
        """The organizations these roles may act for, in configuration order."""
        return [org for org in configured if self.can_manage(org)]

    @classmethod
    def of_client_roles(cls, roles: Iterable[str]) -> StaffRoles:
        """The staff roles an API client holds (``consortium_admin``, ``org_admin:ORG``)."""
        consortium = False
        orgs: set[str] = set()
        for role in roles:
            name, sep, org = role.partition(":")
            if name == Role.CONSORTIUM_ADMIN and not sep:
                consortium = True
            elif name == Role.ORG_ADMIN and org:
                orgs.add(org)
        return cls(consortium, frozenset(orgs))

    def describe(self) -> list[str]:
        """For the audit trail and the page header: ``consortium_admin``, ``org_admin:tsu``."""
        found = [Role.CONSORTIUM_ADMIN.value] if self.consortium_admin else []
        return found + [f"{Role.ORG_ADMIN.value}:{org}" for org in sorted(self.org_admin_of)]


def account_key(organization: str, username: str) -> str:
    return f"{organization}:{username}".casefold()


def roles_from_config(settings: Settings, accounts: Iterable[tuple[str, str]]) -> StaffRoles:
    """``accounts``: (organization, username) pairs; usernames compare without case, as
    directories compare them."""
    keys = {account_key(org, user): org for org, user in accounts}
    consortium = any(a.casefold() in keys for a in settings.roles.consortium_admin)
    org_admin = frozenset(keys[a.casefold()] for a in settings.roles.org_admin if a.casefold() in keys)
    return StaffRoles(consortium, org_admin)


def roles_from_groups(settings: Settings, directories: Mapping[str, object],
                      accounts: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The organizations whose ``admin_group_dn`` has one of these accounts as a member."""
    found: set[str] = set()
    for org, username in accounts:
        organization = settings.organizations.get(org)
        directory = directories.get(org)
        if organization is None or not organization.directory.admin_group_dn:
            continue
        if not isinstance(directory, GroupDirectory):
            continue
        try:
            if directory.is_member(username, organization.directory.admin_group_dn):
                found.add(org)
        except DirectoryUnavailable as exc:
            log.warning("admin group of %s not checked: %s", org, exc.detail)
    return frozenset(found)


def resolve_roles(settings: Settings, directories: Mapping[str, object],
                  accounts: Iterable[tuple[str, str]]) -> StaffRoles:
    pairs = list(accounts)
    configured = roles_from_config(settings, pairs)
    grouped = roles_from_groups(settings, directories, pairs)
    return StaffRoles(configured.consortium_admin, configured.org_admin_of | grouped)
