"""Registering relying parties: from the command line, and from the configuration file's
static clients (kept in step at every start). Secrets are returned once and stored hashed.

Both go through the same checks (``check_client_capabilities``) and the same copy onto the
stored row, so a client means the same whichever way it was registered.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.errors import ConfigError
from idp.oidc.key_metadata import (
    FetchUris,
    KeyMetadata,
    apply_key_metadata,
    key_metadata_problems,
    sector_identifier,
    static_client_keys,
    static_sector_listing,
)
from idp.oidc.profiles import Profile
from idp.oidc.registration import revoke_client_tokens
from idp.settings import (
    AccessTokenFormat,
    ClientSettings,
    GrantType,
    PkcePolicy,
    RefreshTokenPolicy,
    Settings,
)
from idp.settings.clients import check_client_capabilities
from idp.settings.model import DEFAULT_CLIENT_SCOPES, SIGNING_ALGS
from idp.settings.reader import TableReader
from idp.settings.roles import role_problem
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import (
    PRIVATE_KEY_JWT,
    Client,
    find_client,
    hash_secret,
    new_client_id,
    new_client_secret,
)
from idp.storage.release import set_by, set_release


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str | None


def create_client(
    db: Session,
    *,
    name: str,
    redirect_uris: Sequence[str] = (),
    public: bool = False,
    pkce: PkcePolicy = PkcePolicy.REQUIRED,
    trusted: bool = False,
    id_token_signed_response_alg: str = "RS256",
    grant_types: Sequence[GrantType] = (GrantType.AUTHORIZATION_CODE,),
    scopes: Sequence[str] = DEFAULT_CLIENT_SCOPES,
    access_token_format: AccessTokenFormat = AccessTokenFormat.OPAQUE,
    access_token_audience: str = "",
    refresh_token_policy: RefreshTokenPolicy = RefreshTokenPolicy.OFFLINE_ACCESS,
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str = "",
    event_delivery_uri: str = "",
    dev_mode: bool = False,
    actor: str = "cli",
    profile: Profile | None = None,
    roles: Sequence[str] = (),
    organizations: Collection[str] = (),
    token_endpoint_auth_method: str | None = None,
    keys: KeyMetadata = KeyMetadata(),  # noqa: B008 (a frozen value)
    fetch_sector: FetchUris | None = None,
) -> NewClient:
    """Raises ``ConfigError`` listing every problem with the given metadata. A profile
    (``idp.oidc.profiles``) sets the PKCE policy and the token endpoint authentication method
    and checks the redirect URIs, as it does for a registration. ``keys`` carries the
    client's public keys, subject type and sector identifier URI (``idp.oidc.key_metadata``);
    a private_key_jwt client gets no secret."""
    if profile is not None:
        pkce = PkcePolicy.REQUIRED if profile.pkce_required else PkcePolicy.OPTIONAL
    secret = None if public or token_endpoint_auth_method == PRIVATE_KEY_JWT else new_client_secret()
    spec = ClientSettings(
        client_id=new_client_id(),
        name=name.strip(),
        redirect_uris=tuple(redirect_uris),
        client_secret=secret or "",
        public=public,
        pkce=pkce,
        trusted=trusted,
        id_token_signed_response_alg=id_token_signed_response_alg,
        scopes=tuple(dict.fromkeys(scopes)),
        grant_types=tuple(dict.fromkeys(grant_types)),
        access_token_format=access_token_format,
        access_token_audience=access_token_audience,
        refresh_token_policy=refresh_token_policy,
        post_logout_redirect_uris=tuple(dict.fromkeys(post_logout_redirect_uris)),
        backchannel_logout_uri=backchannel_logout_uri,
        event_delivery_uri=event_delivery_uri,
        roles=tuple(dict.fromkeys(roles)),
    )
    problems: list[str] = [f"role: {p}" for role in spec.roles
                           if (p := role_problem(role, organizations))]
    checker = TableReader({}, "", problems)
    if not spec.name:
        problems.append("name: is required")
    if not spec.grant_types:
        problems.append("grant_type: at least one is required")
    if public and pkce is not PkcePolicy.REQUIRED:
        problems.append("pkce: a public client must use PKCE")
    if id_token_signed_response_alg not in SIGNING_ALGS:
        problems.append(f"id_token_signed_response_alg: must be one of {', '.join(SIGNING_ALGS)}")
    check_client_capabilities(checker, spec, dev_mode, redirect_key="redirect_uri",
                              logout_key="post_logout_redirect_uri")
    if profile is not None:
        problems.extend(_profile_problems(profile, spec))
        if token_endpoint_auth_method and token_endpoint_auth_method not in profile.auth_methods:
            problems.append(f"token_endpoint_auth_method: the {profile.name} profile "
                            f"authenticates with {' or '.join(profile.auth_methods)}")
    sector = key_metadata_problems(problems, keys, token_endpoint_auth_method, public, spec, dev_mode,
                           fetch_sector)
    if problems:
        raise ConfigError(problems)
    client = Client(client_id=spec.client_id)
    _apply(client, spec, source="cli")
    client.auth_method = token_endpoint_auth_method
    apply_key_metadata(client, keys, sector)
    if profile is not None:
        client.auth_method = str(profile.defaults["token_endpoint_auth_method"])
        client.registered_metadata = {**(client.registered_metadata or {}),
                                      "campus_profile": profile.name}
    db.add(client)
    audit.record(db, AuditEventType.CLIENT_CREATED, actor=actor, client_id=client.client_id,
                 name=client.name, redirect_uris=list(spec.redirect_uris), public=public,
                 grant_types=list(client.grant_types), scopes=list(client.scopes),
                 access_token_format=client.access_token_format,
                 profile=profile.name if profile else None, roles=list(client.roles),
                 token_endpoint_auth_method=client.token_endpoint_auth_method,
                 subject_type=client.subject_type)
    return NewClient(client.client_id, secret)


def _profile_problems(profile: Profile, spec: ClientSettings) -> list[str]:
    problems = []
    if spec.public:
        problems.append(f"public: the {profile.name} profile is for a confidential client")
    for uri in spec.redirect_uris:
        if not uri.split("?", 1)[0].endswith(profile.redirect_path):
            problems.append(f"redirect_uri: {uri!r} is not where {profile.name} comes back: "
                            f"it must end with {profile.redirect_path}")
    return problems


def sync_static_clients(db: Session, settings: Settings) -> None:
    """Make the stored copy of each configured client match the configuration file. The file
    is the only place its clients are changed (``idp.admin.clients`` refuses), so one removed
    from it is disabled here, its tokens revoked; listed again, it stays disabled until staff
    enable it."""
    _disable_removed(db, set(settings.clients))
    for static in settings.clients.values():
        client = find_client(db, static.client_id)
        if client is None:
            client = Client(client_id=static.client_id)
            db.add(client)
            audit.record(db, AuditEventType.CLIENT_CREATED, actor="config",
                         client_id=static.client_id, name=static.name)
        _apply(client, static, source="config")
        _apply_keys(client, static, settings.server.dev_mode)
        _apply_consent_links(client, static)
        _apply_release(db, client, static)


def _disable_removed(db: Session, listed: set[str]) -> None:
    stmt = select(Client).where(Client.source == "config", Client.deleted_at.is_(None),
                                Client.disabled_at.is_(None))
    for client in db.scalars(stmt):
        if client.client_id in listed:
            continue
        client.disabled_at = utcnow()
        revoked = revoke_client_tokens(db, client)
        audit.record(db, AuditEventType.CLIENT_DISABLED, actor="config",
                     client_id=client.client_id, reason="removed from the configuration file",
                     **revoked.details())


def _apply_keys(client: Client, spec: ClientSettings, dev_mode: bool) -> None:
    """The authentication method, keys and subject type (checked with the settings)."""
    client.auth_method = spec.token_endpoint_auth_method or None
    keys = static_client_keys(spec)
    sector, _problems = sector_identifier(keys.subject_type, spec.redirect_uris,
                                          keys.sector_identifier_uri, dev_mode,
                                          static_sector_listing(spec))
    apply_key_metadata(client, keys, sector)


def _apply_release(db: Session, client: Client, spec: ClientSettings) -> None:
    """``release_claims`` sets the consortium's default; removing the key lifts a default the
    file had set (one set from the CLI or the admin UI stays)."""
    db.flush()  # a new client needs its id
    if spec.release_claims is not None:
        set_release(db, client, spec.release_claims, actor="config")
    elif set_by(db, client.id) == "config":
        set_release(db, client, None, actor="config")


CONSENT_LINKS = ("logo_uri", "policy_uri", "tos_uri")


def _apply_consent_links(client: Client, spec: ClientSettings) -> None:
    """The configured logo, privacy policy and terms, where the consent screen reads them."""
    kept = {k: v for k, v in (client.registered_metadata or {}).items() if k not in CONSENT_LINKS}
    links = {"logo_uri": spec.logo_uri, "policy_uri": spec.policy_uri, "tos_uri": spec.tos_uri}
    client.registered_metadata = {**kept, **{k: v for k, v in links.items() if v}}


def _apply(client: Client, spec: ClientSettings, *, source: str) -> None:
    client.name = spec.name
    client.redirect_uris = list(spec.redirect_uris)
    client.scopes = list(spec.scopes)
    client.public = spec.public
    client.pkce_required = spec.pkce is PkcePolicy.REQUIRED
    client.trusted = spec.trusted
    client.id_token_signed_response_alg = spec.id_token_signed_response_alg
    client.secret_hash = hash_secret(spec.client_secret) if spec.client_secret else None
    client.grant_types = [g.value for g in spec.grant_types]
    client.access_token_format = spec.access_token_format.value
    client.post_logout_redirect_uris = list(spec.post_logout_redirect_uris)
    client.backchannel_logout_uri = spec.backchannel_logout_uri or None
    client.event_delivery_uri = spec.event_delivery_uri or None
    client.access_token_audience = spec.access_token_audience or None
    client.refresh_token_policy = spec.refresh_token_policy.value
    client.roles = list(spec.roles)
    client.source = source
