"""Settings: one documented TOML file, environment overrides, validated at start."""

from idp.settings.load import load_settings
from idp.settings.model import (
    AccessTokenFormat,
    ClientSettings,
    DatabaseSettings,
    DirectorySettings,
    DirectoryType,
    GrantType,
    LinkAction,
    LinkingRule,
    LinkingSettings,
    MatchClaim,
    OidcSettings,
    OrganizationSettings,
    PkcePolicy,
    RefreshTokenPolicy,
    ServerSettings,
    Settings,
)

__all__ = [
    "AccessTokenFormat",
    "ClientSettings",
    "DatabaseSettings",
    "DirectorySettings",
    "DirectoryType",
    "GrantType",
    "LinkAction",
    "LinkingRule",
    "LinkingSettings",
    "MatchClaim",
    "OidcSettings",
    "OrganizationSettings",
    "PkcePolicy",
    "RefreshTokenPolicy",
    "ServerSettings",
    "Settings",
    "load_settings",
]
