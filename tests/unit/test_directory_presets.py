"""The directory presets and mapping rules, without a server."""

from __future__ import annotations

import uuid

import pytest
from ldap.filter import escape_filter_chars

from idp.directory import presets
from idp.directory.base import AuthStatus
from idp.directory.ldap import LdapDirectory
from idp.errors import ConfigError
from idp.settings import DirectorySettings, DirectoryType

GUID = uuid.UUID("0d8a6b1c-3f2e-4a5b-9c7d-1e2f3a4b5c6d")


def settings(kind: DirectoryType = DirectoryType.LDAP, **changes: object) -> DirectorySettings:
    return DirectorySettings(type=kind, uris=("ldap://127.0.0.1:1",), base_dn="dc=x",
                             **changes)  # type: ignore[arg-type]


def test_ldap_preset() -> None:
    profile = presets.profile_for(settings())
    assert profile.user_filter == "(&(objectClass=inetOrgPerson)(uid={username}))"
    assert profile.attributes["id"] == "entryUUID"
    assert profile.attributes["username"] == "uid"
    assert not profile.active_directory
    assert "entryUUID" in profile.requested_attributes
    assert "userAccountControl" not in profile.requested_attributes


def test_active_directory_preset() -> None:
    profile = presets.profile_for(settings(DirectoryType.ACTIVE_DIRECTORY))
    assert profile.user_filter == (
        "(&(objectClass=user)(|(sAMAccountName={username})(userPrincipalName={username})))"
    )
    assert profile.attributes["id"] == "objectGUID"
    assert profile.attributes["username"] == "sAMAccountName"
    assert profile.active_directory
    assert "userAccountControl" in profile.requested_attributes


def test_the_operator_overrides_the_preset_key_by_key() -> None:
    profile = presets.profile_for(settings(
        user_filter="(&(objectClass=person)(cn={username}))",
        attributes={"affiliation": "employeeType", "snils": "campusSnils"},
    ))
    assert profile.user_filter == "(&(objectClass=person)(cn={username}))"
    assert profile.attributes["affiliation"] == "employeeType"
    assert profile.attributes["snils"] == "campusSnils"
    assert profile.attributes["given_name"] == "givenName"  # kept from the preset
    assert len(profile.requested_attributes) == len(set(profile.requested_attributes))


@pytest.mark.parametrize("id_attribute", ["uid", "UID", "dn", "entryDN", "distinguishedName"])
def test_an_id_that_is_the_dn_or_the_username_is_a_configuration_error(id_attribute: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LdapDirectory("tpu", settings(attributes={"id": id_attribute}))
    assert caught.value.problems[0].startswith("organizations.tpu.directory.attributes.id")


@pytest.mark.parametrize("username, password, ok", [
    ("demo", "demo", True),
    ("иван.петров", "пароль", True),
    ("demo", "", False),
    ("", "demo", False),
    ("x" * 256, "demo", True),
    ("x" * 257, "demo", False),
    ("de\x00mo", "demo", False),
    ("demo\r\n", "demo", False),
    ("demo\t", "demo", False),
    ("de\x85mo", "demo", False),  # a C1 control character
    ("demo", "x" * 1025, False),
])
def test_acceptable_credentials(username: str, password: str, ok: bool) -> None:
    assert presets.acceptable_credentials(username, password) is ok


@pytest.mark.parametrize("typed, expected", [
    ("demo", "(uid=demo)"),
    ("*", "(uid=\\2a)"),
    (")(uid=*", "(uid=\\29\\28uid=\\2a)"),
    ("a\\b", "(uid=a\\5cb)"),
    ("пётр", "(uid=пётр)"),
])
def test_usernames_are_escaped_into_the_filter(typed: str, expected: str) -> None:
    assert presets.render_filter("(uid={username})", escape_filter_chars(typed)) == expected


def test_object_guid_is_read_in_windows_byte_order() -> None:
    assert presets.decode_id("objectGUID", GUID.bytes_le) == str(GUID)
    assert presets.decode_id("objectguid", GUID.bytes) != str(GUID)


@pytest.mark.parametrize("raw", [b"", b"\x01" * 15, b"\x01" * 17])
def test_an_object_guid_of_the_wrong_size_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="objectGUID"):
        presets.decode_id("objectGUID", raw)


def test_entry_uuid_is_a_lower_case_uuid_and_other_ids_stay_text() -> None:
    assert presets.decode_id("entryUUID", str(GUID).upper().encode()) == str(GUID)
    assert presets.decode_id("nsUniqueId", b"66446001-1dd211b2-8a9a") == "66446001-1dd211b2-8a9a"
    with pytest.raises(ValueError):
        presets.decode_id("entryUUID", b"  ")


@pytest.mark.parametrize("values, typed, expected", [
    (["Demo"], "demo@tusur.ru", "demo"),
    (["ivanov", "i.ivanov"], "I.Ivanov", "i.ivanov"),
    (["ivanov", "i.ivanov"], "x", "ivanov"),
    ([], "x", None),
])
def test_choose_username(values: list[str], typed: str, expected: str | None) -> None:
    assert presets.choose_username(values, typed) == expected


def test_affiliations_are_translated_lower_cased_and_limited_to_eduperson() -> None:
    mapping = {"Студент": "student", "Сотрудник": "Staff", "Гость": "visitor"}
    values = ["Студент", "сотрудник", "Faculty", "Гость", "Абитуриент", "student", "MEMBER"]
    assert presets.translate_affiliations(values, mapping) == ("student", "staff", "faculty", "member")
    assert presets.translate_affiliations([], mapping) == ()


def test_binary_values_are_not_claims() -> None:
    assert presets.decode_values([b"\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0", b"\xff\xd8\xff"]) == ("Анна",)


@pytest.mark.parametrize("diagnostic, status", [
    ("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563",
     AuthStatus.INVALID_CREDENTIALS),
    ("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 532, v4563",
     AuthStatus.PASSWORD_EXPIRED),
    ("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 773, v4563",
     AuthStatus.PASSWORD_EXPIRED),
    ("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563",
     AuthStatus.ACCOUNT_LOCKED),
    ("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 533, v4563",
     AuthStatus.ACCOUNT_DISABLED),
    ("", AuthStatus.INVALID_CREDENTIALS),
    ("metadata 775", AuthStatus.INVALID_CREDENTIALS),
])
def test_active_directory_bind_sub_codes(diagnostic: str, status: AuthStatus) -> None:
    assert presets.ad_bind_status(diagnostic) is status


@pytest.mark.parametrize("raw, disabled", [
    ([b"512"], False), ([b"514"], True), ([b"66048"], False), ([b"66050"], True),
    ([b"-2147483646"], True), ([], False), ([b"junk"], False),
])
def test_user_account_control_disable_bit(raw: list[bytes], disabled: bool) -> None:
    assert presets.ad_account_disabled(raw) is disabled


def test_an_empty_password_is_refused_without_a_server() -> None:
    directory = LdapDirectory("tpu", settings())  # nothing listens on port 1
    assert directory.authenticate("demo", "").status is AuthStatus.INVALID_CREDENTIALS
