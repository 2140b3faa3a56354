"""Active Directory's nested group membership (``admin_group_dn``) on a real Samba AD domain
controller: the in-chain matching rule (LDAP_MATCHING_RULE_IN_CHAIN), which OpenLDAP does not
implement, so the Active-Directory-like slapd of the other tests cannot answer it.

Groups: "Campus ID admins" (the admin group) has the member "Деканат ФИТ", which has the member
"Кафедра АСУ"; "Библиотека" is a member of nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import ldap
import pytest

from idp.directory import groups
from idp.directory.ldap import LdapDirectory
from idp.settings import DirectorySettings, DirectoryType
from tests.support.samba import AdGroup, AdUser, SambaDomain, unavailable_reason

pytestmark = pytest.mark.samba

ADMINS = "Campus ID admins"
SERVICE = AdUser("campus-idp", "Svc-idp-2024!x", "Campus", "ID")
USERS = [
    SERVICE,
    AdUser("direct.admin", "Direct-2024!x", "Ирина", "Прямая"),
    AdUser("petrova.ns", "Petrova-2024!x", "Наталья", "Петрова"),  # in Деканат ФИТ
    AdUser("orlov.dv", "Orlov-2024!x", "Дмитрий", "Орлов"),  # in Кафедра АСУ, two levels down
    AdUser("zaitsev.ak", "Zaitsev-2024!x", "Андрей", "Зайцев"),  # in Библиотека only
    AdUser("nobody.xx", "Nobody-2024!x", "Никто", "Никакой"),  # in no group of its own
]
GROUPS = [
    AdGroup(ADMINS, ["direct.admin"]),
    AdGroup("Деканат ФИТ", ["petrova.ns"]),
    AdGroup("Кафедра АСУ", ["orlov.dv"]),
    AdGroup("Библиотека", ["zaitsev.ak"]),
    # Nesting, added once every group exists: Кафедра АСУ ⊂ Деканат ФИТ ⊂ Campus ID admins.
    AdGroup("Деканат ФИТ", ["Кафедра АСУ"]),
    AdGroup(ADMINS, ["Деканат ФИТ"]),
]


@pytest.fixture(scope="module")
def domain() -> Iterator[SambaDomain]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with SambaDomain("campus.test", "CAMPUS", USERS, GROUPS) as dc:
        yield dc


@pytest.fixture(scope="module")
def directory(domain: SambaDomain) -> LdapDirectory:
    settings = DirectorySettings(
        type=DirectoryType.ACTIVE_DIRECTORY,
        uris=(domain.uri,),
        base_dn=domain.base_dn,
        bind_dn=domain.user_dn(SERVICE.username),
        bind_password=SERVICE.password,
        allow_insecure=True,
        timeout_s=5.0,
    )
    return LdapDirectory("campus", settings)


# Who is an admin, and why. One test over the table: the domain takes about half a minute to
# provision, and a test of its own per case would make parallel runs provision it again.
ADMIN = [
    ("direct.admin", True),  # a direct member
    ("petrova.ns", True),  # a member of a member of the admin group
    ("orlov.dv", True),  # two levels down
    ("zaitsev.ak", False),  # only in an unrelated group
    ("nobody.xx", False),  # in no group of its own
    ("no.such.person", False),
]


def test_nested_groups_on_active_directory(directory: LdapDirectory, domain: SambaDomain) -> None:
    """``admin_group_dn`` membership follows nested groups; the service account that asks is
    a plain domain user, and the people sign in as usual."""
    found = {username: directory.is_member(username, domain.group_dn(ADMINS))
             for username, _admin in ADMIN}
    assert found == dict(ADMIN)
    result = directory.authenticate("petrova.ns", "Petrova-2024!x")
    assert result.account is not None and result.account.username == "petrova.ns"
    assert directory.is_member("petrova.ns", domain.group_dn("Деканат ФИТ"))
    assert not directory.is_member("petrova.ns", domain.group_dn("Библиотека"))
    # What the in-chain rule adds: a plain member= filter on the same server (the plain LDAP
    # dialect's) sees only the admin group's direct member.
    conn = ldap.initialize(domain.uri)
    conn.simple_bind_s(domain.admin_dn, domain.admin_password)
    try:
        def member(username: str, *, active_directory: bool) -> bool:
            return groups.has_member(conn, domain.group_dn(ADMINS), domain.user_dn(username),
                                     username, active_directory=active_directory)

        assert member("direct.admin", active_directory=False)
        assert not member("petrova.ns", active_directory=False)
        assert member("petrova.ns", active_directory=True)
    finally:
        conn.unbind_s()
