"""Listing a whole organization directory for the directory sync, against real slapd: every
person with the login's mapping, paged, disabled entries, incremental listings from a mark,
and a directory that fails part of the way."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ldap
import pytest

from demo.people import TPU, TSU, TUSUR, DemoOrganization
from demo.slapd import Entry, SlapdServer
from idp.directory.base import AuthStatus, DirectoryEntry, DirectoryListing, ListableDirectory
from idp.directory.ldap import LdapDirectory
from idp.errors import DirectoryUnavailable

pytestmark = pytest.mark.slapd

MakeDirectory = Callable[..., LdapDirectory]
OLD = datetime(2020, 1, 1, tzinfo=UTC)


def by_username(listing: DirectoryListing) -> dict[str, DirectoryEntry]:
    return {entry.account.username: entry for entry in listing.entries}


def backdated(org: DemoOrganization) -> list[Entry]:
    """The organization's entries as a directory that has lived a while: each last changed
    an hour after the one before it, in 2020 (the last person is the latest)."""
    out: list[Entry] = []
    for i, (dn, attrs) in enumerate(org.entries()):
        stamp = (OLD + timedelta(hours=i)).strftime("%Y%m%d%H%M%SZ")
        out.append((dn, {**attrs, "createTimestamp": stamp, "modifyTimestamp": stamp}))
    return out


@pytest.fixture
def own_tpu() -> Iterator[SlapdServer]:
    """A tpu directory of this test's own (it gets changed or stopped), last changed in 2020."""
    with SlapdServer(TPU.suffix, backdated(TPU), schema_files=TPU.schema_files,
                     service_password=TPU.service_password) as server:
        yield server


def modify(server: SlapdServer, username: str, attribute: str, values: list[str]) -> None:
    conn = server.admin_connection()
    try:
        conn.modify_s(f"uid={username},{TPU.base_dn}",
                      [(ldap.MOD_REPLACE, attribute, [v.encode() for v in values])])
    finally:
        conn.unbind_s()


# -- full listings ------------------------------------------------------------------------
def test_a_full_listing_has_every_person_mapped_as_at_login(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    tpu = make_directory(TPU, [tpu_server.uri])
    assert isinstance(tpu, ListableDirectory)
    listing = tpu.listing()
    assert listing.incremental is False
    found = by_username(listing)
    assert sorted(found) == sorted(p.username for p in TPU.people)  # not the ou, not cn=idp
    for person in TPU.people:
        login = tpu.authenticate(person.username, person.password).account
        assert found[person.username].account == login
        assert found[person.username].disabled is False
    assert dict(found["asmirnova"].account.attributes) == {
        "given_name": ("Анна",), "family_name": ("Смирнова",), "middle_name": ("Сергеевна",),
        "display_name": ("Смирнова Анна Сергеевна",), "email": ("asmirnova@tpu.ru",),
        "affiliation": ("staff", "employee", "member"), "snils": ("11223344595",),
        "birthdate": ("1994-09-30",),
        "entitlement": ("urn:mace:dir:entitlement:common-lib-terms",
                        "https://id.tpu.ru/entitlement/lab-access"),
    }
    assert listing.skipped == 0
    assert listing.mark is not None and listing.mark.startswith("ts:")


def test_affiliations_are_translated_as_at_login(
    tsu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    found = by_username(make_directory(TSU, [tsu_server.uri]).listing())
    assert len(found) == len(TSU.people)
    assert found["ivan.petrov"].account.attributes["affiliation"] == ("faculty", "staff")
    assert "affiliation" not in found["kirill.sorokin"].account.attributes  # 'Абитуриент'


def test_paging_two_entries_a_page_reads_every_page(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    whole = by_username(make_directory(TPU, [tpu_server.uri]).listing())
    paged = make_directory(TPU, [tpu_server.uri], sync_page_size=2)
    assert by_username(paged.listing()) == whole
    assert len(whole) == 15  # eight pages


def test_the_connection_goes_back_to_the_pool_when_the_listing_ends(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    tpu = make_directory(TPU, [tpu_server.uri], sync_page_size=2)
    pool = tpu.pools[tpu_server.uri]
    listing = tpu.listing()
    assert pool.idle == 0  # nothing borrowed before the entries are read
    next(listing.entries)
    assert pool.idle == 0  # lent to the listing
    list(listing.entries)
    assert pool.idle == 1
    abandoned = tpu.listing().entries
    next(abandoned)
    assert isinstance(abandoned, Generator)
    abandoned.close()  # in the middle of a paged search: closed, not kept
    assert pool.idle == 0
    assert len(by_username(tpu.listing())) == 15


def test_entries_without_the_mapped_id_are_skipped_and_counted(
    tpu_server: SlapdServer, make_directory: MakeDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="idp.directory.listing")
    tpu = make_directory(TPU, [tpu_server.uri],
                         attributes={**TPU.attributes, "id": "campusSnils"})
    listing = tpu.listing()
    found = by_username(listing)
    assert sorted(found) == sorted(p.username for p in TPU.people if p.snils)
    assert listing.skipped == len(TPU.people) - len(found) > 0
    assert f"'uid=epopova,{TPU.base_dn}' is no account: no campusSnils" in caplog.text


# -- disabled -----------------------------------------------------------------------------
def test_entries_matching_disabled_filter_are_disabled(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    tpu = make_directory(TPU, [tpu_server.uri], sync_page_size=3,
                         disabled_filter="(eduPersonAffiliation=alum)")
    found = by_username(tpu.listing())
    assert len(found) == len(TPU.people)
    assert sorted(u for u, e in found.items() if e.disabled) == ["svolkov", "tlebedeva"]


def test_a_login_of_an_account_matching_disabled_filter_is_refused_as_disabled(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    """The password of a disabled OpenLDAP account still binds: the login asks the filter."""
    tpu = make_directory(TPU, [tpu_server.uri], disabled_filter="(eduPersonAffiliation=alum)")
    refused = tpu.authenticate("svolkov", TPU.person("svolkov").password)
    assert (refused.status, refused.account) == (AuthStatus.ACCOUNT_DISABLED, None)
    assert tpu.authenticate("svolkov", "wrong").status is AuthStatus.INVALID_CREDENTIALS
    allowed = tpu.authenticate("epopova", TPU.person("epopova").password)
    assert allowed.status is AuthStatus.OK and allowed.account is not None
    again = tpu.authenticate("epopova", TPU.person("epopova").password)
    assert again.status is AuthStatus.OK  # the connection went back bound as the service


def test_active_directory_user_account_control_disables(
    tusur_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    tusur = make_directory(TUSUR, [tusur_server.uri], sync_page_size=4)
    listing = tusur.listing()
    found = by_username(listing)
    assert sorted(found) == sorted(p.username for p in TUSUR.people)
    assert [u for u, e in found.items() if e.disabled] == ["baranov.ip"]
    assert found["kovaleva.ei"].account == tusur.authenticate(
        "kovaleva.ei", TUSUR.person("kovaleva.ei").password).account
    # An Active-Directory-like OpenLDAP has no update sequence numbers: listings stay full.
    assert listing.mark is None
    assert tusur.listing("usn:100@CN=NTDS Settings,CN=DC1").incremental is False


# -- incremental --------------------------------------------------------------------------
def test_incremental_listing_returns_what_changed(
    own_tpu: SlapdServer, make_directory: MakeDirectory
) -> None:
    tpu = make_directory(TPU, [own_tpu.uri], disabled_filter="(eduPersonAffiliation=alum)")
    full = tpu.listing()
    assert len(by_username(full)) == 15
    assert full.mark == "ts:20200101150000Z"  # the latest entry's, tgaliev's

    nothing = tpu.listing(full.mark)
    assert nothing.incremental is True
    assert sorted(by_username(nothing)) == ["tgaliev"]  # changed in the mark's own second
    assert nothing.mark == full.mark

    modify(own_tpu, "epopova", "displayName", ["Попова-Смирнова Елена Николаевна"])
    modify(own_tpu, "dvasiliev", "eduPersonAffiliation", ["alum"])
    changed = tpu.listing(nothing.mark)
    found = by_username(changed)
    assert sorted(found) == ["dvasiliev", "epopova", "tgaliev"]
    assert found["epopova"].account.attributes["display_name"] == ("Попова-Смирнова Елена Николаевна",)
    assert found["dvasiliev"].disabled is True and found["epopova"].disabled is False
    assert changed.mark is not None and changed.mark > full.mark

    again = tpu.listing(changed.mark)
    # Changed a moment ago (within the allowance for the server's clock): they may come again,
    # nothing else does.
    assert set(by_username(again)) <= {"dvasiliev", "epopova"}
    assert again.mark is not None and again.mark >= changed.mark


def test_a_mark_of_another_kind_gives_a_full_listing(
    own_tpu: SlapdServer, make_directory: MakeDirectory
) -> None:
    tpu = make_directory(TPU, [own_tpu.uri])
    for mark in (None, "usn:12@CN=NTDS Settings,CN=DC1", "ts:yesterday", "garbage"):
        listing = tpu.listing(mark)
        assert listing.incremental is False
        assert len(by_username(listing)) == 15


# -- failures -----------------------------------------------------------------------------
def test_a_server_stopped_mid_listing_raises_directory_unavailable(
    own_tpu: SlapdServer, make_directory: MakeDirectory
) -> None:
    tpu = make_directory(TPU, [own_tpu.uri], sync_page_size=2)
    entries = tpu.listing().entries
    seen = [next(entries), next(entries), next(entries)]
    own_tpu.stop()
    with pytest.raises(DirectoryUnavailable, match="listing failed after 4 entries"):
        seen.extend(entries)
    assert len(seen) == 4  # the rest of the page in hand, then the failure
    assert tpu.pools[own_tpu.uri].idle == 0  # the failed connection was not kept


def test_a_server_that_hangs_mid_listing_raises_after_its_timeout(
    own_tpu: SlapdServer, make_directory: MakeDirectory
) -> None:
    tpu = make_directory(TPU, [own_tpu.uri], sync_page_size=2, timeout_s=1.0)
    entries = tpu.listing().entries
    next(entries)
    pid = int(Path(own_tpu.workdir / "slapd.pid").read_text())
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(DirectoryUnavailable, match="listing failed"):
            list(entries)
    finally:
        os.kill(pid, signal.SIGCONT)


def test_no_server_answering_raises_directory_unavailable(
    make_directory: MakeDirectory, dead_uri: str
) -> None:
    listing = make_directory(TPU, [dead_uri]).listing()
    with pytest.raises(DirectoryUnavailable, match="no directory server answered"):
        next(listing.entries)


def test_the_next_server_lists_when_the_first_is_down(
    tpu_server: SlapdServer, make_directory: MakeDirectory, dead_uri: str
) -> None:
    tpu = make_directory(TPU, [dead_uri, tpu_server.uri])
    assert len(by_username(tpu.listing())) == 15


def test_a_kept_connection_to_a_restarted_server_is_replaced(
    own_tpu: SlapdServer, make_directory: MakeDirectory
) -> None:
    tpu = make_directory(TPU, [own_tpu.uri])
    assert len(by_username(tpu.listing())) == 15
    assert tpu.pools[own_tpu.uri].idle == 1
    own_tpu.stop()
    own_tpu.start()
    assert len(by_username(tpu.listing())) == 15


class LimitedSlapd(SlapdServer):
    """A slapd that lets the service account read five entries a search, as OpenLDAP does
    with its default limit of 500 in a larger directory."""

    def _configure(self) -> None:
        super()._configure()
        with (self.workdir / "slapd.conf").open("a", encoding="utf-8") as conf:
            conf.write(f'limits dn.exact="{self.service_dn}" size=5\n')


def test_a_size_limit_fails_the_listing_and_says_so(make_directory: MakeDirectory) -> None:
    with LimitedSlapd(TPU.suffix, TPU.entries(), schema_files=TPU.schema_files,
                      service_password=TPU.service_password) as server:
        tpu = make_directory(TPU, [server.uri], sync_page_size=2)
        with pytest.raises(DirectoryUnavailable, match=r"Size limit exceeded.*size limit"):
            list(tpu.listing().entries)
