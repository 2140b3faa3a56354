"""Staff roles: ``consortium_admin`` (everything) and ``org_admin`` of an organization (its
clients, registration tokens and release policy, nothing else); for the helpdesk console,
``helpdesk`` (every identity) and ``helpdesk:ORG`` (``[roles] org_helpdesk``: the identities
with an account of the staff account's organization).

Roles belong to the account that signed in, never to its identity: an account listed in
``[roles]`` (by ``org:username``), or one that is a member of its organization's
``admin_group_dn`` (``org_admin``) or ``helpdesk_group_dn`` (``helpdesk:ORG``), asked of the
directory. Signing in with another account linked to the same person gives that account's roles
only, so no link, merge or move carries a privilege. An unreachable directory grants nothing
from its groups and is logged; the roles from the configuration still apply.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from idp.directory.base import GroupDirectory
from idp.errors import DirectoryUnavailable
from idp.linking.helpdesk import HELPDESK, HelpdeskScope
from idp.settings import Settings

log = logging.getLogger(__name__)


class Role(StrEnum):
    CONSORTIUM_ADMIN = "consortium_admin"
    ORG_ADMIN = "org_admin"


@dataclass(frozen=True)
class StaffRoles:
    consortium_admin: bool = False
    org_admin_of: frozenset[str] = frozenset()
    # The helpdesk console's roles: ``helpdesk`` (every organization), ``helpdesk:ORG``.
    helpdesk_all: bool = False
    helpdesk_of: frozenset[str] = frozenset()

    def helpdesk_scope(self) -> HelpdeskScope | None:
        """What the helpdesk console lets these roles act on; None: not at all. A consortium
        admin may do everything."""
        if self.consortium_admin or self.helpdesk_all:
            return HelpdeskScope(None)
        return HelpdeskScope(self.helpdesk_of) if self.helpdesk_of else None

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
        found += [f"{Role.ORG_ADMIN.value}:{org}" for org in sorted(self.org_admin_of)]
        found += [HELPDESK] if self.helpdesk_all else []
        return found + [f"{HELPDESK}:{org}" for org in sorted(self.helpdesk_of)]


def account_key(organization: str, username: str) -> str:
    return f"{organization}:{username}".casefold()


def roles_from_config(settings: Settings, organization: str, username: str) -> StaffRoles:
    """The ``[roles]`` entries of one account; usernames compare without case, as directories
    compare them."""
    key = account_key(organization, username)
    consortium = any(a.casefold() == key for a in settings.roles.consortium_admin)
    org_admin = any(a.casefold() == key for a in settings.roles.org_admin)
    helpdesk = any(a.casefold() == key for a in settings.roles.helpdesk)
    org_helpdesk = any(a.casefold() == key for a in settings.roles.org_helpdesk)
    return StaffRoles(consortium, frozenset({organization}) if org_admin else frozenset(),
                      helpdesk, frozenset({organization}) if org_helpdesk else frozenset())


@dataclass(frozen=True)
class GroupMembership:
    """What the account's organization's directory said of its groups."""

    admin: bool = False  # a member of ``admin_group_dn``: org_admin
    helpdesk: bool = False  # a member of ``helpdesk_group_dn``: helpdesk:ORG


def directory_groups(settings: Settings, directories: Mapping[str, object],
                     organization: str, username: str) -> GroupMembership:
    """Whether the account is a member of its organization's ``admin_group_dn`` and
    ``helpdesk_group_dn`` (asked of the directory; a group not configured, or a directory
    that does not answer, says no, the latter logged)."""
    org = settings.organizations.get(organization)
    directory = directories.get(organization)
    if org is None or not isinstance(directory, GroupDirectory):
        return GroupMembership()
    return GroupMembership(
        _member(directory, org.directory.admin_group_dn, organization, username, "admin"),
        _member(directory, org.directory.helpdesk_group_dn, organization, username, "helpdesk"))


def _member(directory: GroupDirectory, group_dn: str, organization: str, username: str,
            which: str) -> bool:
    if not group_dn:
        return False
    try:
        return directory.is_member(username, group_dn)
    except DirectoryUnavailable as exc:
        log.warning("%s group of %s not checked: %s", which, organization, exc.detail)
        return False


def account_roles(settings: Settings, organization: str, username: str,
                  groups: GroupMembership) -> StaffRoles:
    """The roles of the account that signed in: its ``[roles]`` entries and its groups."""
    configured = roles_from_config(settings, organization, username)
    own = frozenset({organization})
    return StaffRoles(configured.consortium_admin,
                      configured.org_admin_of | (own if groups.admin else frozenset()),
                      configured.helpdesk_all,
                      configured.helpdesk_of | (own if groups.helpdesk else frozenset()))
