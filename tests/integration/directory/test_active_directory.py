"""Password login against an Active-Directory-like slapd (the demo's tusur): sAMAccountName and
userPrincipalName, objectGUID in Windows byte order, userAccountControl, Cyrillic DNs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import ldap
import pytest
from sqlalchemy.orm import Session

from demo.people import TUSUR
from demo.slapd import SlapdServer
from idp.directory.base import AuthStatus
from idp.directory.ldap import LdapDirectory
from idp.errors import DirectoryUnavailable
from idp.identity.login import check_password
from idp.identity.throttle import LoginThrottle
from idp.identity.throttle_store import MemoryStore
from idp.settings import DirectoryType, ThrottleSettings
from idp.storage.base import make_engine
from idp.storage.migrate import upgrade
from tests.support.throttle import FakeClock

pytestmark = pytest.mark.slapd

MakeDirectory = Callable[..., LdapDirectory]
OK, INVALID = AuthStatus.OK, AuthStatus.INVALID_CREDENTIALS


@pytest.fixture
def tusur(tusur_server: SlapdServer, make_directory: MakeDirectory) -> LdapDirectory:
    return make_directory(TUSUR, [tusur_server.uri])


def test_the_demo_uses_the_active_directory_preset(tusur: LdapDirectory) -> None:
    assert tusur.settings.type is DirectoryType.ACTIVE_DIRECTORY
    assert tusur.settings.user_filter == ""
    assert "sAMAccountName={username}" in tusur.profile.user_filter


def test_login_by_sam_account_name(tusur: LdapDirectory) -> None:
    person = TUSUR.person("kovaleva.ei")
    result = tusur.authenticate("kovaleva.ei", person.password)
    assert result.status is OK and result.account is not None
    assert result.account.username == "kovaleva.ei"
    assert result.account.external_id == str(person.guid)
    assert dict(result.account.attributes) == {
        "given_name": ("Екатерина",), "middle_name": ("Игоревна",), "family_name": ("Ковалёва",),
        "display_name": ("Ковалёва Екатерина Игоревна",), "email": ("kovaleva.ei@tusur.ru",),
        "affiliation": ("student", "member"),
    }


@pytest.mark.parametrize("typed", ["demo@tusur.ru", "DEMO@TUSUR.RU", "Demo"])
def test_login_by_user_principal_name_gives_the_same_account(tusur: LdapDirectory, typed: str) -> None:
    by_sam = tusur.authenticate("demo", "demo").account
    other = tusur.authenticate(typed, "demo").account
    assert by_sam is not None and other is not None
    assert other.username == "demo"  # the sAMAccountName, not what was typed
    assert other.external_id == by_sam.external_id == str(TUSUR.person("demo").guid)


def test_object_guid_is_decoded_in_windows_byte_order(
    tusur: LdapDirectory, tusur_server: SlapdServer
) -> None:
    person = TUSUR.person("sidorov.av")
    conn = tusur_server.admin_connection()
    [(_, attrs)] = conn.search_s(TUSUR.base_dn, ldap.SCOPE_ONELEVEL,
                                 "(sAMAccountName=sidorov.av)", ["objectGUID"])
    conn.unbind_s()
    raw = attrs["objectGUID"][0]
    account = tusur.authenticate("sidorov.av", person.password).account
    assert account is not None
    assert account.external_id == str(uuid.UUID(bytes_le=raw)) == str(person.guid)
    assert account.external_id != str(uuid.UUID(bytes=raw))


def test_a_disabled_account_is_told_apart_only_with_the_right_password(tusur: LdapDirectory) -> None:
    person = TUSUR.person("baranov.ip")
    assert person.disabled
    assert tusur.authenticate("baranov.ip", person.password).status is AuthStatus.ACCOUNT_DISABLED
    assert tusur.authenticate("baranov.ip", "wrong").status is INVALID
    assert tusur.authenticate("baranov.ip@tusur.ru", person.password).account is None


def test_wrong_password_and_unknown_user(tusur: LdapDirectory) -> None:
    assert tusur.authenticate("demo", "wrong").status is INVALID
    assert tusur.authenticate("nobody", "demo").status is INVALID
    assert tusur.authenticate("demo", "").status is INVALID


@pytest.mark.parametrize(
    "username",
    ["*", "de*", "*@tusur.ru", ")(sAMAccountName=*", "demo)(|(objectClass=*",
     "x)(userPrincipalName=*", "*))(|(sAMAccountName=*", "demo\x00", "d" * 257],
)
def test_filter_injection_never_logs_anyone_in(tusur: LdapDirectory, username: str) -> None:
    assert tusur.authenticate(username, "demo").status is INVALID


def test_every_person_with_cyrillic_dn_can_log_in(tusur: LdapDirectory) -> None:
    for person in TUSUR.people:
        result = tusur.authenticate(person.username, person.password)
        expected = AuthStatus.ACCOUNT_DISABLED if person.disabled else OK
        assert result.status is expected, person.username
        if result.account:
            assert result.account.first("family_name") == person.family_name


def test_a_refused_service_account_is_the_operators_problem(
    tusur_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TUSUR, [tusur_server.uri], bind_password="wrong")
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("demo", "demo")


def test_failover_to_the_second_domain_controller(
    dead_uri: str, tusur_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TUSUR, [dead_uri, tusur_server.uri])
    assert directory.authenticate("demo@tusur.ru", "demo").status is OK


def test_the_login_throttle_counts_a_name_and_its_user_principal_name_as_one_account(
        tusur: LdapDirectory, tmp_path: Path) -> None:
    """Five wrong passwords, some typed as ``name``, some as ``name@tusur.ru``, use up the
    account's free failures: the next attempt is refused in either form (it was not: each form
    had a counter of its own, doubling the guesses an attacker gets)."""
    engine = make_engine(f"sqlite:///{tmp_path}/idp.sqlite3")
    upgrade(engine)
    throttle = LoginThrottle(MemoryStore(), ThrottleSettings(), FakeClock())
    person = TUSUR.person("kovaleva.ei")
    with Session(engine) as db:
        for typed in ["kovaleva.ei", "kovaleva.ei@tusur.ru", "Kovaleva.EI@TUSUR.RU",
                      "kovaleva.ei", "kovaleva.ei@tusur.ru"]:
            proof = check_password(db, tusur, typed, "wrong", ip=None, throttle=throttle)
            assert proof.status is INVALID and proof.retry_after_s is None
        for typed in ["kovaleva.ei", "kovaleva.ei@tusur.ru"]:
            proof = check_password(db, tusur, typed, person.password, ip=None, throttle=throttle)
            assert proof.found is None and proof.retry_after_s == 2
    engine.dispose()
