"""The rules of a directory listing, without a server: its filter, how an entry becomes an
account (the login's mapping), Active Directory's computers, and the incremental marks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from idp.directory import presets
from idp.settings import DirectorySettings, DirectoryType

GUID = uuid.UUID("0d8a6b1c-3f2e-4a5b-9c7d-1e2f3a4b5c6d")


def profile(kind: DirectoryType = DirectoryType.LDAP, **changes: object) -> presets.Profile:
    return presets.profile_for(DirectorySettings(
        type=kind, uris=("ldap://127.0.0.1:1",), base_dn="dc=x", **changes))  # type: ignore[arg-type]


# -- the filter ---------------------------------------------------------------------------
@pytest.mark.parametrize(("template", "expected"), [
    ("(&(objectClass=inetOrgPerson)(uid={username}))", "(&(objectClass=inetOrgPerson)(uid=*))"),
    ("(&(objectClass=user)(|(sAMAccountName={username})(userPrincipalName={username})))",
     "(&(objectClass=user)(|(sAMAccountName=*)(userPrincipalName=*)))"),
    ("(mail={username}@tpu.ru)", "(mail=*@tpu.ru)"),  # a substring filter
    ("(cn=*{username}*)", "(cn=*)"),  # no empty substring between two wildcards
    ("(uid~={username})", "(uid=*)"),  # approximate and ordering matches take no wildcard
    ("(&(uid={username})(employeeNumber>={username}))", "(&(uid=*)(employeeNumber=*))"),
    ("(&(uid={username})(!(cn=a\\2ab)))", "(&(uid=*)(!(cn=a\\2ab)))"),  # escapes stay
])
def test_the_listing_filter_matches_every_username(template: str, expected: str) -> None:
    assert presets.listing_filter(template) == expected


def test_the_presets_list_with_their_login_filters() -> None:
    assert presets.listing_filter(profile().user_filter) == "(&(objectClass=inetOrgPerson)(uid=*))"
    ad = profile(DirectoryType.ACTIVE_DIRECTORY)
    assert presets.listing_filter(ad.user_filter) == (
        "(&(objectClass=user)(|(sAMAccountName=*)(userPrincipalName=*)))")
    assert presets.and_filter("(a=*)", "(b=1)") == "(&(a=*)(b=1))"


def test_active_directory_computer_accounts_are_told_apart() -> None:
    assert presets.ad_computer([b"top", b"person", b"organizationalPerson", b"user", b"computer"])
    assert not presets.ad_computer([b"top", b"person", b"organizationalPerson", b"user"])
    assert not presets.ad_computer([])


# -- an entry as an account ---------------------------------------------------------------
def test_an_entry_is_mapped_as_at_login() -> None:
    p = profile(attributes={"affiliation": "employeeType", "middle_name": "campusMiddleName"})
    attrs = {"entryuuid": [str(GUID).upper().encode()], "uid": [b"Anna", b"a.smirnova"],
             "givenname": ["Анна".encode()], "employeetype": ["Студент".encode(), b"Staff"],
             "campusmiddlename": ["Сергеевна".encode()], "jpegphoto": [b"\xff\xd8\xff"]}
    account = presets.account_from_entry("tsu", p, {"Студент": "student"}, attrs)
    assert account.organization == "tsu"
    assert account.external_id == str(GUID)
    assert account.username == "anna"  # the first value, lower-cased, when nobody typed one
    assert dict(account.attributes) == {"given_name": ("Анна",), "affiliation": ("student", "staff"),
                                        "middle_name": ("Сергеевна",)}


def test_an_active_directory_entry_has_its_guid_decoded() -> None:
    p = profile(DirectoryType.ACTIVE_DIRECTORY)
    attrs = {"objectguid": [GUID.bytes_le], "samaccountname": [b"Petrov.SS"]}
    account = presets.account_from_entry("tusur", p, {}, attrs)
    assert (account.external_id, account.username) == (str(GUID), "petrov.ss")


@pytest.mark.parametrize(("attrs", "why"), [
    ({"uid": [b"anna"]}, "no entryUUID"),
    ({"entryuuid": [b"  "], "uid": [b"anna"]}, "not usable"),
    ({"entryuuid": [str(GUID).encode()]}, "no uid"),
    ({"entryuuid": [str(GUID).encode()], "uid": [b"\xff\xfe"]}, "no uid"),  # not text
])
def test_an_entry_without_usable_id_or_username_is_no_account(
    attrs: dict[str, list[bytes]], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        presets.account_from_entry("tpu", profile(), {}, attrs)


def test_an_object_guid_of_the_wrong_length_is_no_account() -> None:
    attrs = {"objectguid": [b"\x01\x02"], "samaccountname": [b"x"]}
    with pytest.raises(ValueError, match="objectGUID is not usable"):
        presets.account_from_entry("tusur", profile(DirectoryType.ACTIVE_DIRECTORY), {}, attrs)


# -- modifyTimestamp marks ----------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ("20261202140000Z", "20261202140000Z"),
    ("20261202140000.123Z", "20261202140000Z"),  # rounded down: ">=" still includes it
    ("20261202170000+0300", "20261202140000Z"),
    ("20261202000000-0130", "20261202013000Z"),
    ("2026120214Z", None),  # no seconds
    ("20261302140000Z", None),  # no 13th month
    ("20261202140000+0000", "20261202140000Z"),
    ("yesterday", None),
])
def test_generalized_times_are_normalized(value: str, expected: str | None) -> None:
    assert presets.normalized_time(value) == expected


STARTED = datetime(2026, 12, 2, 14, 0, 0, tzinfo=UTC)  # minus CLOCK_SKEW_S: 13:55:00


@pytest.mark.parametrize(("latest", "since", "expected"), [
    (None, None, None),  # a full listing that saw no timestamp: the next one is full too
    (None, "20261201000000Z", "ts:20261201000000Z"),  # nothing changed: the same mark
    ("20261202100000Z", None, "ts:20261202100000Z"),  # the latest seen
    ("20261202135959Z", None, "ts:20261202135500Z"),  # changed while it ran? listed again
    ("20261202135959Z", "20261202135800Z", "ts:20261202135800Z"),  # never back before since
])
def test_the_timestamp_mark(latest: str | None, since: str | None, expected: str | None) -> None:
    assert presets.CLOCK_SKEW_S == 300
    assert presets.timestamp_mark(latest, since, STARTED) == expected


@pytest.mark.parametrize(("mark", "expected"), [
    ("ts:20261202140000Z", "20261202140000Z"),
    ("ts:20261202140000.5Z", "20261202140000Z"),
    ("ts:", None),
    ("ts:junk", None),
    ("usn:12@CN=NTDS Settings,CN=DC1", None),
    ("20261202140000Z", None),
    ("", None),
    (None, None),
])
def test_timestamp_marks_are_read_back(mark: str | None, expected: str | None) -> None:
    assert presets.parse_timestamp_mark(mark) == expected


# -- update sequence number marks (Active Directory) --------------------------------------
def test_usn_marks_name_their_domain_controller() -> None:
    server = "CN=NTDS Settings,CN=DC1@campus,CN=Servers"
    mark = presets.usn_mark(4711, server)
    assert mark == "usn:4711@CN=NTDS Settings,CN=DC1@campus,CN=Servers"
    assert presets.parse_usn_mark(mark) == (4711, server)


@pytest.mark.parametrize("mark", [None, "", "usn:", "usn:12", "usn:12@", "usn:x@CN=DC1",
                                  "usn:-1@CN=DC1", "ts:20261202140000Z"])
def test_other_marks_are_no_usn_marks(mark: str | None) -> None:
    assert presets.parse_usn_mark(mark) is None
