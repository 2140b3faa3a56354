"""Directory types by name: one literal map, type to factory. The server imports no
implementation directly."""

from __future__ import annotations

from collections.abc import Callable

from idp.directory.base import PasswordDirectory
from idp.directory.ldap import LdapDirectory
from idp.settings import DirectorySettings, DirectoryType, Settings

FACTORIES: dict[DirectoryType, Callable[[str, DirectorySettings], PasswordDirectory]] = {
    DirectoryType.LDAP: LdapDirectory,
    DirectoryType.ACTIVE_DIRECTORY: LdapDirectory,  # the same code, with the AD preset
}


def build_directories(settings: Settings) -> dict[str, PasswordDirectory]:
    return {
        org_id: FACTORIES[org.directory.type](org_id, org.directory)
        for org_id, org in settings.organizations.items()
    }
