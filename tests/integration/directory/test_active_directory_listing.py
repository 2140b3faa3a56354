"""Listing an Active Directory for the directory sync, on a real Samba AD domain controller:
``userAccountControl`` says who is disabled, computer accounts are nobody's, and incremental
listings continue from the domain controller's ``highestCommittedUSN`` (``uSNChanged``), which
the Active-Directory-like slapd of the other tests does not keep.
"""

from __future__ import annotations

from collections.abc import Iterator

import ldap
import pytest

from idp.directory.base import DirectoryEntry, DirectoryListing
from idp.directory.ldap import LdapDirectory
from idp.settings import DirectorySettings, DirectoryType
from tests.support.samba import AdUser, SambaDomain, unavailable_reason

pytestmark = pytest.mark.samba

SERVICE = AdUser("campus-sync", "Svc-sync-2024!x", "Campus", "Sync")
IVANOVA = AdUser("ivanova.ma", "Ivanova-2024!x", "Мария", "Иванова")
PETROV = AdUser("petrov.ss", "Petrov-2024!x", "Сергей", "Петров")
SIDOROVA = AdUser("sidorova.ea", "Sidorova-2024!x", "Елена", "Сидорова")


@pytest.fixture(scope="module")
def domain() -> Iterator[SambaDomain]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with SambaDomain("sync.test", "SYNC", [SERVICE, IVANOVA, PETROV, SIDOROVA], []) as dc:
        yield dc


def by_username(listing: DirectoryListing) -> dict[str, DirectoryEntry]:
    return {entry.account.username: entry for entry in listing.entries}


# One test: the domain takes about half a minute to provision, and parallel runs would
# provision it again for each test.
def test_listing_an_active_directory(domain: SambaDomain) -> None:
    directory = LdapDirectory("sync", DirectorySettings(
        type=DirectoryType.ACTIVE_DIRECTORY, uris=(domain.uri,), base_dn=domain.base_dn,
        bind_dn=domain.user_dn(SERVICE.username), bind_password=SERVICE.password,
        allow_insecure=True, timeout_s=5.0, sync_page_size=2,
    ))
    try:
        # Every user, the built-in ones too; the domain controller's computer account is none.
        full = directory.listing()
        found = by_username(full)
        assert full.incremental is False
        assert {u.username for u in (SERVICE, IVANOVA, PETROV, SIDOROVA)} <= set(found)
        assert {"administrator", "guest", "krbtgt"} <= set(found)
        assert not [name for name in found if name.endswith("$")]
        assert sorted(u for u, e in found.items() if e.disabled) == ["guest", "krbtgt"]
        login = directory.authenticate(IVANOVA.username, IVANOVA.password).account
        assert login is not None and found[IVANOVA.username].account == login
        assert dict(login.attributes) == {"given_name": ("Мария",), "family_name": ("Иванова",),
                                          "display_name": ("Мария Иванова",)}
        assert full.mark is not None and full.mark.startswith("usn:")

        # Nothing changed by anyone (a sign-in may touch the account's logon attributes).
        quiet = directory.listing(full.mark)
        assert quiet.incremental is True
        assert set(by_username(quiet)) <= {IVANOVA.username, SERVICE.username}

        admin = ldap.initialize(domain.uri)
        admin.simple_bind_s(domain.admin_dn, domain.admin_password)
        try:
            admin.modify_s(domain.user_dn(PETROV.username),
                           [(ldap.MOD_REPLACE, "userAccountControl", [b"514"])])
            admin.modify_s(domain.user_dn(SIDOROVA.username),
                           [(ldap.MOD_REPLACE, "givenName", ["Елена Петровна".encode()])])
        finally:
            admin.unbind_s()
        changed = by_username(directory.listing(quiet.mark))
        assert {PETROV.username, SIDOROVA.username} <= set(changed)
        assert set(changed) <= {PETROV.username, SIDOROVA.username, IVANOVA.username,
                                SERVICE.username}
        assert changed[PETROV.username].disabled is True
        assert changed[SIDOROVA.username].disabled is False
        assert changed[SIDOROVA.username].account.attributes["given_name"] == ("Елена Петровна",)

        # Update sequence numbers count on one domain controller: another's mark lists all.
        elsewhere = directory.listing("usn:1@CN=NTDS Settings,CN=DC2,CN=Servers,CN=Other")
        assert elsewhere.incremental is False
        assert len(by_username(elsewhere)) == len(found)
    finally:
        directory.close()
