"""Password login against real OpenLDAP servers (the demo's tpu and tsu): results, stable ids,
attribute mapping, filter injection. Failover, timeouts and TLS: test_ldap_availability.py."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import ldap
import pytest

from demo.people import ORGANIZATIONS, TPU, TSU
from demo.slapd import SlapdServer, ssha
from demo.toml_writer import dumps
from idp.directory.base import AuthStatus
from idp.directory.ldap import LdapDirectory
from idp.errors import DirectoryUnavailable
from idp.settings.load import load_settings

pytestmark = pytest.mark.slapd

MakeDirectory = Callable[..., LdapDirectory]
OK, INVALID = AuthStatus.OK, AuthStatus.INVALID_CREDENTIALS
PETR = "пётр"  # a Cyrillic username with a Cyrillic password, in the private server only
PETR_PASSWORD = "Пароль-для-Петра"


@pytest.fixture
def tpu(tpu_server: SlapdServer, make_directory: MakeDirectory) -> LdapDirectory:
    return make_directory(TPU, [tpu_server.uri])


@pytest.fixture
def private_tpu() -> Iterator[SlapdServer]:
    """A tpu server of the test's own, which it may change."""
    petr = (f"uid={PETR},{TPU.base_dn}", {
        "objectClass": ["inetOrgPerson"], "uid": PETR, "cn": "Пётр Иванов", "sn": "Иванов",
        "givenName": "Пётр", "userPassword": ssha(PETR_PASSWORD),
    })
    with SlapdServer(TPU.suffix, [*TPU.entries(), petr], schema_files=TPU.schema_files,
                     service_password=TPU.service_password) as server:
        yield server


def entry_uuid(server: SlapdServer, dn: str) -> str:
    conn = server.admin_connection()
    try:
        [(_, attrs)] = conn.search_s(dn, ldap.SCOPE_BASE, attrlist=["entryUUID"])
        return str(attrs["entryUUID"][0].decode())
    finally:
        conn.unbind_s()


def test_login_returns_the_mapped_attributes_and_the_entry_uuid(
    tpu: LdapDirectory, tpu_server: SlapdServer
) -> None:
    person = TPU.person("asmirnova")
    result = tpu.authenticate("asmirnova", person.password)
    assert result.status is OK and result.account is not None
    account = result.account
    assert account.organization == "tpu"
    assert account.username == "asmirnova"
    assert account.external_id == entry_uuid(tpu_server, f"uid=asmirnova,{TPU.base_dn}")
    assert account.external_id == str(uuid.UUID(account.external_id))  # canonical, lower-case
    assert dict(account.attributes) == {
        "given_name": ("Анна",), "middle_name": ("Сергеевна",), "family_name": ("Смирнова",),
        "display_name": ("Смирнова Анна Сергеевна",), "email": ("asmirnova@tpu.ru",),
        "affiliation": ("staff", "employee", "member"), "snils": (person.snils,),
        "birthdate": ("1994-09-30",), "entitlement": person.entitlements,
    }


def test_the_username_is_the_stored_one_whatever_the_case_typed(tpu: LdapDirectory) -> None:
    result = tpu.authenticate("DeMo", "demo")
    assert result.status is OK and result.account is not None
    assert result.account.username == "demo"


def test_the_id_survives_a_rename_so_it_is_not_the_dn(
    private_tpu: SlapdServer, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TPU, [private_tpu.uri])
    password = TPU.person("dvasiliev").password
    before = directory.authenticate("dvasiliev", password).account
    conn = private_tpu.admin_connection()
    conn.rename_s(f"uid=dvasiliev,{TPU.base_dn}", "uid=dvasilieva", delold=1)
    conn.unbind_s()
    after = directory.authenticate("dvasilieva", password).account
    assert before is not None and after is not None
    assert after.username == "dvasilieva"
    assert after.external_id == before.external_id
    assert directory.authenticate("dvasiliev", password).status is INVALID


def test_cyrillic_username_and_password(private_tpu: SlapdServer, make_directory: MakeDirectory) -> None:
    directory = make_directory(TPU, [private_tpu.uri])
    result = directory.authenticate(PETR.upper(), PETR_PASSWORD)
    assert result.status is OK and result.account is not None
    assert result.account.username == PETR
    assert result.account.first("given_name") == "Пётр"
    assert directory.authenticate(PETR, "пароль-для-петра").status is INVALID


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(tpu: LdapDirectory) -> None:
    wrong = tpu.authenticate("demo", "not-demo")
    unknown = tpu.authenticate("nobody", "demo")
    assert wrong.status is unknown.status is INVALID
    assert wrong.account is unknown.account is None


@pytest.mark.parametrize(
    "username, password",
    [("demo", ""), ("", "demo"), ("x" * 300, "demo"), ("de\x00mo", "demo"), ("demo\n", "demo"),
     ("\x7f", "demo"), ("demo", "x" * 5000)],
)
def test_input_no_directory_should_see_is_refused_without_asking(
    username: str, password: str, hanging_uri: str, tpu_server: SlapdServer,
    make_directory: MakeDirectory,
) -> None:
    """Against a server that never answers, any network traffic would end in
    DirectoryUnavailable: INVALID_CREDENTIALS proves nothing was sent."""
    silent = make_directory(TPU, [hanging_uri], timeout_s=5.0)
    assert silent.authenticate(username, password).status is INVALID
    live = make_directory(TPU, [tpu_server.uri])
    assert live.authenticate(username, password).status is INVALID


@pytest.mark.parametrize(
    "username",
    ["*", "de*", "*mo", "d*o", ")(uid=*", "demo)(uid=*", "*)(|(uid=*", "demo)(|(uid=*)",
     "demo\\2a", "\\64emo", "de\x00mo", "demo\x00", "d" * 300],
)
@pytest.mark.parametrize("password", ["demo", TPU.person("asmirnova").password])
def test_filter_injection_never_logs_anyone_in(tpu: LdapDirectory, username: str, password: str) -> None:
    assert tpu.authenticate(username, password).status is INVALID


@pytest.mark.parametrize("user_filter, username", [
    ("(eduPersonAffiliation={username})", "faculty"),  # two entries
    ("(eduPersonAffiliation={username})", "student"),  # more than the size limit of two
])
def test_a_filter_matching_several_entries_logs_nobody_in(
    tpu_server: SlapdServer, make_directory: MakeDirectory, user_filter: str, username: str
) -> None:
    directory = make_directory(TPU, [tpu_server.uri], user_filter=user_filter)
    for person in TPU.people:
        assert directory.authenticate(username, person.password).status is INVALID


def test_anonymous_search_when_no_service_account_is_configured(make_directory: MakeDirectory) -> None:
    with TPU.server(anonymous_search=True) as server:
        directory = make_directory(TPU, [server.uri], bind_dn="", bind_password="")
        assert directory.authenticate("demo", "demo").status is OK
        assert directory.authenticate("demo", "wrong").status is INVALID


def test_a_missing_id_attribute_is_the_operators_problem_but_only_after_the_password(
    tpu: LdapDirectory, tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    attributes = {**TPU.attributes, "id": "employeeNumber"}  # nobody has one
    directory = make_directory(TPU, [tpu_server.uri], attributes=attributes)
    assert directory.authenticate("demo", "wrong").status is INVALID
    with pytest.raises(DirectoryUnavailable) as caught:
        directory.authenticate("demo", "demo")
    assert "employeeNumber" in caught.value.detail


@pytest.mark.parametrize("username, affiliations", [
    ("ivan.petrov", ("faculty", "staff")),   # Преподаватель, Сотрудник
    ("pavel.nikitin", ("student", "staff")),  # Аспирант, Сотрудник
    ("anna.smirnova", ("alum",)),            # Выпускник
    ("kirill.sorokin", ()),                  # Абитуриент: not in the map, dropped
])
def test_the_affiliation_map_translates_directory_values(
    tsu_server: SlapdServer, make_directory: MakeDirectory, username: str,
    affiliations: tuple[str, ...],
) -> None:
    result = make_directory(TSU, [tsu_server.uri]).authenticate(username, TSU.person(username).password)
    assert result.account is not None
    assert result.account.attributes.get("affiliation", ()) == affiliations


def test_the_shared_snils_is_read_at_both_universities(
    tpu: LdapDirectory, tsu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    at_tpu = tpu.authenticate("asmirnova", TPU.person("asmirnova").password).account
    tsu = make_directory(TSU, [tsu_server.uri])
    at_tsu = tsu.authenticate("anna.smirnova", TSU.person("anna.smirnova").password).account
    assert at_tpu is not None and at_tsu is not None
    assert at_tpu.first("snils") == at_tsu.first("snils") is not None
    assert at_tpu.external_id != at_tsu.external_id


def test_the_password_is_never_logged_and_the_username_only_at_debug(
    caplog: pytest.LogCaptureFixture, dead_uri: str, tpu_server: SlapdServer,
    make_directory: MakeDirectory,
) -> None:
    password = TPU.person("asmirnova").password
    directory = make_directory(TPU, [dead_uri, tpu_server.uri])
    with caplog.at_level(logging.DEBUG):
        directory.authenticate("asmirnova", password)
        directory.authenticate("asmirnova", "a-wrong-password")
    assert caplog.records
    assert password not in caplog.text and "a-wrong-password" not in caplog.text
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "asmirnova" in r.getMessage())


def test_the_demo_configuration_loads_and_logs_the_demo_users_in(
    tmp_path: Path, tpu_server: SlapdServer, tsu_server: SlapdServer,
    tusur_server: SlapdServer,
) -> None:
    """What ``make demo`` does: the suggested tables, through the provider's own loader."""
    servers = {"tpu": tpu_server, "tsu": tsu_server, "tusur": tusur_server}
    config = {
        "server": {"issuer": "http://127.0.0.1:8080", "dev_mode": True, "secret_key": "s" * 40},
        "organizations": {org_id: org.config([servers[org_id].uri])
                          for org_id, org in ORGANIZATIONS.items()},
    }
    path = tmp_path / "idp.toml"
    path.write_text(dumps(config), encoding="utf-8")
    settings = load_settings(path, environ={})
    for org_id, org in settings.organizations.items():
        directory = LdapDirectory(org_id, org.directory)
        assert directory.authenticate("demo", "demo").status is OK, org_id
