"""Registering relying parties: from the command line, and from the configuration file's
static clients (kept in step at every start). Secrets are returned once and stored hashed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.errors import ConfigError
from idp.settings import ClientSettings, PkcePolicy, Settings
from idp.settings.load import check_redirect_uri
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
    redirect_uris: list[str],
    public: bool = False,
    pkce: PkcePolicy = PkcePolicy.REQUIRED,
    trusted: bool = False,
    id_token_signed_response_alg: str = "RS256",
    dev_mode: bool = False,
    actor: str = "cli",
) -> NewClient:
    """Raises ``ConfigError`` listing every problem with the given metadata."""
    problems: list[str] = []
    checker = TableReader({}, "", problems)
    if not name.strip():
        problems.append("name: is required")
    if not redirect_uris:
        problems.append("redirect_uri: at least one is required")
    for uri in redirect_uris:
        check_redirect_uri(checker, "redirect_uri", uri, dev_mode)
    if public and pkce is not PkcePolicy.REQUIRED:
        problems.append("pkce: a public client must use PKCE")
    if id_token_signed_response_alg not in ("ES256", "RS256"):
        problems.append("id_token_signed_response_alg: must be ES256 or RS256")
    if problems:
        raise ConfigError(problems)
    secret = None if public else new_client_secret()
    client = Client(
        client_id=new_client_id(),
        secret_hash=hash_secret(secret) if secret else None,
        name=name.strip(),
        redirect_uris=list(redirect_uris),
        scopes=["openid", "profile", "email", "campus"],
        public=public,
        pkce_required=pkce is PkcePolicy.REQUIRED,
        trusted=trusted,
        id_token_signed_response_alg=id_token_signed_response_alg,
        source="cli",
    )
    db.add(client)
    audit.record(db, AuditEventType.CLIENT_CREATED, actor=actor, client_id=client.client_id,
                 name=client.name, redirect_uris=list(redirect_uris), public=public)
    return NewClient(client.client_id, secret)


def sync_static_clients(db: Session, settings: Settings) -> None:
    """Make the stored copy of each configured client match the configuration file."""
    for static in settings.clients.values():
        client = find_client(db, static.client_id)
        if client is None:
            client = Client(client_id=static.client_id, source="config")
            db.add(client)
            audit.record(db, AuditEventType.CLIENT_CREATED, actor="config",
                         client_id=static.client_id, name=static.name)
        _apply(client, static)


def _apply(client: Client, static: ClientSettings) -> None:
    client.name = static.name
    client.redirect_uris = list(static.redirect_uris)
    client.scopes = list(static.scopes)
    client.public = static.public
    client.pkce_required = static.pkce is PkcePolicy.REQUIRED
    client.trusted = static.trusted
    client.id_token_signed_response_alg = static.id_token_signed_response_alg
    client.secret_hash = hash_secret(static.client_secret) if static.client_secret else None
    client.source = "config"
