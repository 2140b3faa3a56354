"""Registering relying parties: from the command line, and from the configuration file's
static clients (kept in step at every start). Secrets are returned once and stored hashed.

Both go through the same checks (``check_client_capabilities``) and the same copy onto the
stored row, so a client means the same whichever way it was registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.errors import ConfigError
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
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import Client, find_client, hash_secret, new_client_id, new_client_secret


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
    dev_mode: bool = False,
    actor: str = "cli",
) -> NewClient:
    """Raises ``ConfigError`` listing every problem with the given metadata."""
    secret = None if public else new_client_secret()
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
    )
    problems: list[str] = []
    checker = TableReader({}, "", problems)
    if not spec.name:
        problems.append("name: is required")
    if not spec.grant_types:
        problems.append("grant_type: at least one is required")
    if public and pkce is not PkcePolicy.REQUIRED:
        problems.append("pkce: a public client must use PKCE")
    if id_token_signed_response_alg not in SIGNING_ALGS:
        problems.append(f"id_token_signed_response_alg: must be one of {', '.join(SIGNING_ALGS)}")
    check_client_capabilities(checker, spec, dev_mode, redirect_key="redirect_uri")
    if problems:
        raise ConfigError(problems)
    client = Client(client_id=spec.client_id)
    _apply(client, spec, source="cli")
    db.add(client)
    audit.record(db, AuditEventType.CLIENT_CREATED, actor=actor, client_id=client.client_id,
                 name=client.name, redirect_uris=list(spec.redirect_uris), public=public,
                 grant_types=list(client.grant_types), scopes=list(client.scopes),
                 access_token_format=client.access_token_format)
    return NewClient(client.client_id, secret)


def sync_static_clients(db: Session, settings: Settings) -> None:
    """Make the stored copy of each configured client match the configuration file."""
    for static in settings.clients.values():
        client = find_client(db, static.client_id)
        if client is None:
            client = Client(client_id=static.client_id)
            db.add(client)
            audit.record(db, AuditEventType.CLIENT_CREATED, actor="config",
                         client_id=static.client_id, name=static.name)
        _apply(client, static, source="config")


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
    client.access_token_audience = spec.access_token_audience or None
    client.refresh_token_policy = spec.refresh_token_policy.value
    client.source = source
