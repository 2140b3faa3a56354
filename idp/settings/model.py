"""The validated settings of Campus ID as frozen dataclasses: what the rest of the code reads.

The file format and every key's meaning are documented in ``config/idp.example.toml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from idp.settings.access_model import (
    AccessSettings as AccessSettings,
)
from idp.settings.access_model import (
    ConnectorSettings as ConnectorSettings,
)
from idp.settings.access_model import (
    DeliverySettings as DeliverySettings,
)
from idp.settings.access_model import (
    PassSettings as PassSettings,
)
from idp.settings.access_model import (
    PolicySettings as PolicySettings,
)
from idp.settings.access_model import (  # the access part, re-exported
    ResourceKind as ResourceKind,
)
from idp.settings.access_model import (
    ResourceSettings as ResourceSettings,
)


class DirectoryType(StrEnum):
    LDAP = "ldap"
    ACTIVE_DIRECTORY = "active_directory"


class PkcePolicy(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"


class AccessTokenFormat(StrEnum):
    OPAQUE = "opaque"
    JWT = "jwt"  # RFC 9068


class RefreshTokenPolicy(StrEnum):
    OFFLINE_ACCESS = "offline_access"  # only when the offline_access scope is granted
    ALWAYS = "always"  # with every authorization code exchange


class LinkAction(StrEnum):
    LINK = "link"  # links when exactly one other identity matches
    PROPOSE = "propose"  # never links by itself: a proposal for the review queue


class MatchClaim(StrEnum):
    """The claims a linking rule may compare, each with its normalisation (``idp.linking``)."""

    SNILS = "snils"
    BIRTHDATE = "birthdate"
    FAMILY_NAME = "family_name"
    GIVEN_NAME = "given_name"
    MIDDLE_NAME = "middle_name"


SIGNING_ALGS = ("ES256", "RS256", "EdDSA")
# How long relying parties may cache the JWKS document (its Cache-Control max-age).
JWKS_MAX_AGE_S = 300
DEFAULT_CLIENT_SCOPES = ("openid", "profile", "email", "campus")


class ServerEngine(StrEnum):
    """The HTTP server ``idp serve`` runs the provider on (idp.web.serve)."""

    GRANIAN = "granian"
    GUNICORN = "gunicorn"


@dataclass(frozen=True)
class ServerSettings:
    issuer: str
    dev_mode: bool
    secret_key: str
    workers: int = 2
    threads: int = 2
    session_lifetime_s: int = 8 * 3600
    trust_forwarded_headers: bool = False
    tls_cert_file: str = ""
    tls_key_file: str = ""
    engine: ServerEngine = ServerEngine.GRANIAN
    spread_connections: bool = True


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///var/idp.sqlite3"


@dataclass(frozen=True)
class DirectorySettings:
    """How to reach one organization's directory. ``attributes`` holds only what the operator
    mapped; the directory type's preset fills in the rest (``idp.directory.presets``)."""

    type: DirectoryType
    uris: tuple[str, ...]
    base_dn: str
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    user_filter: str = ""
    start_tls: bool = False
    allow_insecure: bool = False
    ca_file: str = ""
    timeout_s: float = 3.0
    attributes: Mapping[str, str] = field(default_factory=dict)
    affiliation_map: Mapping[str, str] = field(default_factory=dict)
    # Members of this group are org_admin of the organization (idp.admin.roles); empty: none.
    admin_group_dn: str = ""
    # Members of this group are helpdesk:ORG of the organization (the helpdesk console,
    # idp.admin.roles); empty: none.
    helpdesk_group_dn: str = ""
    # Directory sync (idp.provisioning.sync): how often the worker syncs (0: only on command),
    # which entries are disabled on a server without userAccountControl, the page size, and the
    # safety brake: a sync ending access for more than both the fraction of active accounts and
    # the floor ends nothing until an operator accepts it.
    sync_interval_s: int = 0
    disabled_filter: str = ""
    sync_page_size: int = 500
    max_removal_fraction: float = 0.05
    max_removal_floor: int = 20


@dataclass(frozen=True)
class OrganizationSettings:
    id: str
    name: str
    name_ru: str
    scope: str
    directory: DirectorySettings


@dataclass(frozen=True)
class ClientSettings:
    """A relying party declared in the configuration file (a static client)."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...] = ()
    client_secret: str = field(default="", repr=False)
    public: bool = False
    pkce: PkcePolicy = PkcePolicy.REQUIRED
    trusted: bool = False
    id_token_signed_response_alg: str = "RS256"
    scopes: tuple[str, ...] = DEFAULT_CLIENT_SCOPES
    grant_types: tuple[GrantType, ...] = (GrantType.AUTHORIZATION_CODE,)
    access_token_format: AccessTokenFormat = AccessTokenFormat.OPAQUE
    access_token_audience: str = ""
    refresh_token_policy: RefreshTokenPolicy = RefreshTokenPolicy.OFFLINE_ACCESS
    # Logout (RP-Initiated Logout 1.0 and Back-Channel Logout 1.0); empty: none registered.
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str = ""
    # Security Event Tokens about its people (idp.oidc.events); empty: none.
    event_delivery_uri: str = ""
    # Helpdesk API roles (``idp.settings.roles``): "helpdesk" or "helpdesk:ORG".
    roles: tuple[str, ...] = ()
    # Attribute release (docs/claims.md): the consortium's default for this client; None: the
    # configuration leaves it to `idp clients release`.
    release_claims: tuple[str, ...] | None = None
    # Shown on the consent screen (https only): the logo, privacy policy and terms of service.
    logo_uri: str = ""
    policy_uri: str = ""
    tos_uri: str = ""
    # How it authenticates at the token endpoint; empty: with its secret, either way
    # (client_secret_basic or client_secret_post). "private_key_jwt": a signed assertion
    # (RFC 7523) checked against ``jwks`` (its public keys) or ``jwks_uri``, and no secret.
    token_endpoint_auth_method: str = ""
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str = ""
    # OpenID Connect Core 8: "public" or "pairwise"; a pairwise client's sector is its
    # redirect URIs' one host, or the host of ``sector_identifier_uri``.
    subject_type: str = "public"
    sector_identifier_uri: str = ""


@dataclass(frozen=True)
class OidcSettings:
    code_lifetime_s: int = 60
    access_token_lifetime_s: int = 3600
    id_token_lifetime_s: int = 3600
    # A refresh token family ends this long after the code exchange that started it...
    refresh_token_lifetime_s: int = 30 * 86400
    # ...or earlier, when no refresh happened for this long.
    refresh_token_idle_lifetime_s: int = 7 * 86400


@dataclass(frozen=True)
class ThrottleSchedule:
    """How one kind of key (an account, a client address) slows down after failed logins:
    ``free_failures`` cost nothing, the next attempt waits ``base_delay_s``, doubling with each
    further failure up to ``max_delay_s``; one failure is forgotten every ``forget_s``."""

    free_failures: int
    base_delay_s: float
    max_delay_s: float
    forget_s: float


@dataclass(frozen=True)
class ThrottleSettings:
    enabled: bool = True
    redis_url: str = field(default="", repr=False)  # empty: each process counts on its own
    key_prefix: str = "campus-id:throttle:"
    account: ThrottleSchedule = ThrottleSchedule(5, 2.0, 900.0, 600.0)
    address: ThrottleSchedule = ThrottleSchedule(20, 1.0, 60.0, 30.0)


@dataclass(frozen=True)
class LinkingRule:
    """``[linking.rules.NAME]``: accounts whose normalised ``match`` claims are all equal are
    the same person; ``action`` says whether that links them or only proposes it."""

    name: str
    match: tuple[MatchClaim, ...]
    action: LinkAction


@dataclass(frozen=True)
class LinkingSettings:
    rules: Mapping[str, LinkingRule] = field(default_factory=dict)
    # Organizations whose account gives a linked identity its name and email, first wins.
    primary_precedence: tuple[str, ...] = ()
    # An organization to those (itself included) whose accounts its accounts may join by a
    # link rule; an organization absent here trusts every member.
    trust: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def trusts(self, organization: str, others: Iterable[str]) -> bool:
        """Whether an account of ``organization`` may join, by rule, an identity whose
        accounts are of ``others``."""
        trusted = self.trust.get(organization)
        return trusted is None or all(o in trusted for o in others)


@dataclass(frozen=True)
class RolesSettings:
    """``[roles]``: staff roles by account (``org:username``, the organization's id and the
    username as its directory knows it). ``org_admin`` is of the account's organization."""

    consortium_admin: tuple[str, ...] = ()
    org_admin: tuple[str, ...] = ()
    # The helpdesk console (/helpdesk): ``helpdesk`` acts on every identity, ``org_helpdesk``
    # on those with an account of the staff account's own organization (``helpdesk:ORG``).
    helpdesk: tuple[str, ...] = ()
    org_helpdesk: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdminSettings:
    """``[admin]``: the organization admin web UI (``/admin``)."""

    # After a client secret rotation the previous secret keeps working this long.
    secret_rotation_overlap_s: int = 7 * 86400


@dataclass(frozen=True)
class HelpdeskSettings:
    """``[helpdesk]``: the helpdesk console (``/helpdesk``)."""

    # A staff sign-in lasts this long (minutes), and asks for the password again after it.
    session_minutes: int = 30


@dataclass(frozen=True)
class KeySettings:
    """``[keys]``: signing key rotation (``idp keys rotate``, docs/keys.md)."""

    # A new key is published at once and signs only this long after (longer than JWKS caches).
    activation_delay_s: int = 3600
    # A replaced key stays published for the longest token lifetime plus this margin.
    retire_margin_s: int = 600
    # How often a running process asks the database whether keys were added or retired.
    reload_check_s: int = 5


@dataclass(frozen=True)
class OutboundSettings:
    """``[outbound]``: every HTTP call the provider makes to an address a client gave
    (``jwks_uri``, ``sector_identifier_uri``, back-channel logout and event delivery URIs)."""

    # The whole call: name resolution, connection, TLS and every read together.
    timeout_s: float = 5.0
    max_bytes: int = 1024 * 1024
    # Loopback, private, link-local (cloud metadata) and shared addresses; default: dev_mode.
    allow_private: bool = False
    # A jwks_uri that failed is not asked again for this long (answers fail at once).
    failure_cache_s: int = 60
    # A jwks_uri is fetched again for a key id it did not have at most this often.
    min_refetch_s: int = 30


@dataclass(frozen=True)
class HealthSettings:
    """``[health]``: what ``/readyz`` checks and which of its parts a load balancer needs."""

    # The parts whose failure makes /readyz answer 503: "database", "migrations", "redis",
    # "directory:ORG"; None: database, migrations, and redis when [throttle] redis_url is set.
    required: tuple[str, ...] | None = None
    # Each check's whole deadline (a directory's own timeout is capped at it), seconds.
    timeout_s: float = 1.0
    # How long one answer is reused, so that a load balancer probing often costs little.
    cache_s: float = 1.0


@dataclass(frozen=True)
class MetricsSettings:
    """``[metrics]``: Prometheus metrics (idp.metrics, docs/operations.md "Metrics"). Served
    at ``/metrics`` on the provider's own port when ``token`` is set (a bearer token), and on
    a separate ``listen`` address (``host:port``) when that is set; never unprotected."""

    enabled: bool = False
    token: str = field(default="", repr=False)
    listen: str = ""
    # The worker processes' shared files; empty: a new temporary directory for each `idp serve`.
    multiprocess_dir: str = ""


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


@dataclass(frozen=True)
class LoggingSettings:
    """``[logging]``: one JSON object a line (the default), or plain text (the default in dev
    mode); records below ``level`` are dropped (idp.logs)."""

    format: LogFormat = LogFormat.JSON
    level: LogLevel = LogLevel.INFO


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    database: DatabaseSettings
    oidc: OidcSettings
    organizations: Mapping[str, OrganizationSettings]
    clients: Mapping[str, ClientSettings]
    throttle: ThrottleSettings = ThrottleSettings()
    linking: LinkingSettings = LinkingSettings()
    roles: RolesSettings = RolesSettings()
    admin: AdminSettings = AdminSettings()
    helpdesk: HelpdeskSettings = HelpdeskSettings()
    keys: KeySettings = KeySettings()
    outbound: OutboundSettings = OutboundSettings()
    access: AccessSettings = field(default_factory=AccessSettings)
    connectors: Mapping[str, ConnectorSettings] = field(default_factory=dict)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    passes: PassSettings = field(default_factory=PassSettings)  # the [pass] table
    health: HealthSettings = HealthSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()
