"""Staff roles from [roles]: validated at start with the key named, matched by account without
case; what a role may manage; the membership filter escapes what it is given."""

from __future__ import annotations

from typing import Any

import pytest

from idp.admin.roles import StaffRoles, roles_from_config
from idp.directory.groups import membership_filter
from idp.settings import Settings
from idp.settings.load import parse_settings

BASE: dict[str, Any] = {
    "server": {"issuer": "https://id.example.org", "secret_key": "k" * 40},
    "organizations": {
        org: {"name": org, "scope": f"{org}.ru",
              "directory": {"uris": [f"ldaps://ldap.{org}.ru"], "base_dn": f"dc={org},dc=ru"}}
        for org in ("tpu", "tsu")
    },
}


def parse(**extra: Any) -> tuple[Settings, list[str]]:
    problems: list[str] = []
    settings = parse_settings({**BASE, **extra}, problems)
    return settings, problems


def test_roles_and_overlap_are_read() -> None:
    settings, problems = parse(roles={"consortium_admin": ["tpu:ivanov"], "org_admin": ["tsu:petrov"]},
                               admin={"secret_rotation_overlap_s": 3600})
    assert not problems
    assert settings.roles.consortium_admin == ("tpu:ivanov",)
    assert settings.roles.org_admin == ("tsu:petrov",)
    assert settings.admin.secret_rotation_overlap_s == 3600


def test_defaults_without_tables() -> None:
    settings, problems = parse()
    assert not problems
    assert settings.roles.consortium_admin == () and settings.admin.secret_rotation_overlap_s == 7 * 86400


def test_every_problem_is_listed_with_its_key() -> None:
    orgs = dict(BASE["organizations"])
    orgs["tsu"] = {**orgs["tsu"], "directory": {**orgs["tsu"]["directory"], "admin_group_dn": "admins"}}
    _settings, problems = parse(
        organizations=orgs,
        roles={"consortium_admin": ["ivanov"], "org_admin": ["msu:petrov", 3], "superuser": []},
        admin={"secret_rotation_overlap_s": -1},
    )
    text = "\n".join(problems)
    assert "roles.consortium_admin: 'ivanov' is not an account" in text
    assert "roles.org_admin: must be a list of strings" in text
    assert "roles.superuser: is not a known setting" in text
    assert "admin.secret_rotation_overlap_s: must be between" in text
    assert "organizations.tsu.directory.admin_group_dn: 'admins' is not a DN" in text


def test_unknown_organization_in_an_account() -> None:
    _settings, problems = parse(roles={"org_admin": ["msu:petrov"]})
    assert problems == ["roles.org_admin: 'msu:petrov': 'msu' is not a configured organization"]


def test_roles_from_config_match_accounts_without_case() -> None:
    settings, _ = parse(roles={"consortium_admin": ["tpu:Ivanov"], "org_admin": ["tsu:petrov"]})
    assert roles_from_config(settings, "tpu", "ivanov") == StaffRoles(True, frozenset())
    assert roles_from_config(settings, "tsu", "PETROV") == StaffRoles(False, frozenset({"tsu"}))
    # Only the account's own organization: tsu:petrov is not petrov anywhere else.
    assert not roles_from_config(settings, "tpu", "petrov").is_staff


def test_what_roles_may_manage() -> None:
    org_admin = StaffRoles(False, frozenset({"tsu"}))
    assert org_admin.can_manage("tsu") and not org_admin.can_manage("tpu")
    assert not org_admin.can_manage(None)  # consortium clients are the consortium's
    assert org_admin.organizations(["tpu", "tsu"]) == ["tsu"]
    boss = StaffRoles(True, frozenset())
    assert boss.can_manage(None) and boss.organizations(["tpu", "tsu"]) == ["tpu", "tsu"]
    assert boss.describe() == ["consortium_admin"] and org_admin.describe() == ["org_admin:tsu"]


@pytest.mark.parametrize("active_directory", [False, True])
def test_membership_filter_escapes_values(active_directory: bool) -> None:
    found = membership_filter("uid=a*)(x,ou=p,dc=t", "a*)(|(uid=*", active_directory=active_directory)
    assert "a\\2a\\29\\28x" in found and "(memberUid=a\\2a\\29\\28|\\28uid=\\2a)" in found
    assert found.count("(") == found.count(")") == 4  # only the filter's own parentheses
