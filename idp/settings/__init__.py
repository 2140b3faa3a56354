"""Settings: one documented TOML file, environment overrides, validated at start."""

from idp.settings.load import load_settings
from idp.settings.model import (
    ClientSettings,
    DatabaseSettings,
    DirectorySettings,
    DirectoryType,
    OidcSettings,
    OrganizationSettings,
    PkcePolicy,
    ServerSettings,
    Settings,
)

__all__ = [
    "ClientSettings",
    "DatabaseSettings",
    "DirectorySettings",
    "DirectoryType",
    "OidcSettings",
    "OrganizationSettings",
    "PkcePolicy",
    "ServerSettings",
    "Settings",
    "load_settings",
]
