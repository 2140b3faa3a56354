"""Settings: one documented TOML file, environment overrides, validated at start.

The package exports the model (``idp.settings.model``), which every layer may import. The
loader (``idp.settings.load.load_settings``) is imported from its module: it checks clients by
the rules of registration (``idp.oidc.key_metadata``), which themselves use the model, so the
package must not pull the loader in.
"""

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
    ThrottleSchedule,
    ThrottleSettings,
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
    "ThrottleSchedule",
    "ThrottleSettings",
]
