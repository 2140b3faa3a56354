"""helpdesk_group_dn: read and checked as a DN with its key named; a member is helpdesk of the
account's own organization, beside its [roles] entries and its admin group; a group that is not
configured is never asked; a directory that does not answer grants nothing."""

from __future__ import annotations

from typing import Any

import pytest

from idp.admin.roles import GroupMembership, StaffRoles, account_roles, directory_groups
from idp.errors import DirectoryUnavailable
from idp.linking.helpdesk import HelpdeskScope
from idp.settings import Settings
from idp.settings.load import parse_settings

ORGS: dict[str, Any] = {
    org: {"name": org, "scope": f"{org}.ru",
          "directory": {"uris": [f"ldaps://ldap.{org}.ru"], "base_dn": f"dc={org},dc=ru"}}
    for org in ("tpu", "tsu")
}
HELPDESK_DN = "cn=helpdesk,ou=groups,dc=tsu,dc=ru"
ADMIN_DN = "cn=admins,ou=groups,dc=tsu,dc=ru"


def parse(tsu_directory: dict[str, str], **extra: Any) -> tuple[Settings, list[str]]:
    orgs = {**ORGS, "tsu": {**ORGS["tsu"], "directory": {**ORGS["tsu"]["directory"],
                                                         **tsu_directory}}}
    problems: list[str] = []
    data = {"server": {"issuer": "https://id.example.org", "secret_key": "k" * 40},
            "organizations": orgs, **extra}
    return parse_settings(data, problems), problems


class Groups:
    """A directory whose groups are a dict: group DN to member usernames; or one that does
    not answer."""

    organization = "tsu"

    def __init__(self, members: dict[str, set[str]], *, down: bool = False) -> None:
        self.members, self.down = members, down
        self.asked: list[str] = []

    def is_member(self, username: str, group_dn: str) -> bool:
        self.asked.append(group_dn)
        if self.down:
            raise DirectoryUnavailable("ldaps://ldap.tsu.ru: timed out")
        return username in self.members.get(group_dn, set())


def test_the_group_is_read_and_must_be_a_dn() -> None:
    settings, problems = parse({"helpdesk_group_dn": HELPDESK_DN})
    assert not problems and settings.organizations["tsu"].directory.helpdesk_group_dn == HELPDESK_DN
    assert settings.organizations["tpu"].directory.helpdesk_group_dn == ""
    _settings, problems = parse({"helpdesk_group_dn": "helpdesk"})
    assert problems == ["organizations.tsu.directory.helpdesk_group_dn: 'helpdesk' is not a DN"]


def test_a_member_is_helpdesk_of_its_own_organization() -> None:
    settings, _ = parse({"helpdesk_group_dn": HELPDESK_DN, "admin_group_dn": ADMIN_DN},
                        roles={"org_admin": ["tsu:petrov"]})
    directory = Groups({HELPDESK_DN: {"ivanova", "petrov"}, ADMIN_DN: {"sidorov"}})
    groups = directory_groups(settings, {"tsu": directory}, "tsu", "ivanova")
    assert groups == GroupMembership(admin=False, helpdesk=True)
    roles = account_roles(settings, "tsu", "ivanova", groups)
    assert roles == StaffRoles(helpdesk_of=frozenset({"tsu"}))
    assert roles.helpdesk_scope() == HelpdeskScope(frozenset({"tsu"}))
    assert roles.describe() == ["helpdesk:tsu"] and not roles.is_staff

    both = account_roles(settings, "tsu", "petrov",
                         directory_groups(settings, {"tsu": directory}, "tsu", "petrov"))
    assert both == StaffRoles(org_admin_of=frozenset({"tsu"}), helpdesk_of=frozenset({"tsu"}))
    admin = account_roles(settings, "tsu", "sidorov",
                          directory_groups(settings, {"tsu": directory}, "tsu", "sidorov"))
    assert admin.helpdesk_scope() is None and admin.org_admin_of == {"tsu"}


def test_no_group_configured_is_never_asked() -> None:
    settings, _ = parse({})
    directory = Groups({HELPDESK_DN: {"ivanova"}})
    assert directory_groups(settings, {"tsu": directory}, "tsu", "ivanova") == GroupMembership()
    assert directory.asked == []
    assert directory_groups(settings, {}, "tpu", "ivanova") == GroupMembership()


def test_a_directory_that_does_not_answer_grants_nothing(caplog: pytest.LogCaptureFixture) -> None:
    settings, _ = parse({"helpdesk_group_dn": HELPDESK_DN}, roles={"org_helpdesk": ["tsu:ivanova"]})
    directory = Groups({HELPDESK_DN: {"ivanova", "petrova"}}, down=True)
    groups = directory_groups(settings, {"tsu": directory}, "tsu", "petrova")
    assert groups == GroupMembership()
    assert "helpdesk group of tsu not checked: ldaps://ldap.tsu.ru: timed out" in caplog.text
    # What [roles] says still holds.
    roles = account_roles(settings, "tsu", "ivanova",
                          directory_groups(settings, {"tsu": directory}, "tsu", "ivanova"))
    assert roles.helpdesk_of == {"tsu"}
