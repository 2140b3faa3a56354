"""Loading settings: one TOML file, then ``IDP__SECTION__...__KEY`` environment overrides,
then secrets from ``*_file`` keys, then validation that lists every problem at once."""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from idp.errors import ConfigError
from idp.settings.model import (
    DEFAULT_CLIENT_SCOPES,
    SIGNING_ALGS,
    AccessTokenFormat,
    ClientSettings,
    DatabaseSettings,
    DirectorySettings,
    DirectoryType,
    GrantType,
    OidcSettings,
    OrganizationSettings,
    PkcePolicy,
    RefreshTokenPolicy,
    ServerSettings,
    Settings,
)
from idp.settings.reader import TableReader

ENV_PREFIX = "IDP__"
DEV_SECRET_FILE = Path("var/secret_key")
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,64}$")  # RFC 6749 3.3
_TOP_LEVEL = {"server", "database", "oidc", "organizations", "clients"}


def load_settings(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Settings:
    """Read, override and validate; raise ``ConfigError`` listing every problem."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read: {exc.strerror}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: is not valid TOML: {exc}"]) from exc
    problems: list[str] = []
    apply_env_overrides(data, os.environ if environ is None else environ, problems)
    settings = parse_settings(data, problems)
    if problems:
        raise ConfigError(problems)
    return settings


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str], problems: list[str]) -> None:
    """``IDP__A__B__C=value`` sets ``data["a"]["b"]["c"]``; the value is read as a TOML value
    when it is one (``true``, ``3``, ``["x"]``), else as a plain string."""
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        if not all(path) or path[0] not in _TOP_LEVEL:
            problems.append(f"{name}: does not name a setting")
            continue
        table = data
        for part in path[:-1]:
            child = table.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(f"{name}: {'.'.join(path)} is not inside a table")
                break
            table = child
        else:
            table[path[-1]] = _parse_env_value(raw)


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def parse_settings(data: Mapping[str, Any], problems: list[str]) -> Settings:
    root = TableReader(data, "", problems)
    server = _server(root.sub("server", required=True))
    database = DatabaseSettings(url=root.sub("database").string("url", DatabaseSettings.url))
    oidc = _oidc(root.sub("oidc"))
    orgs_table = root.sub("organizations", required=True)
    organizations = {
        org_id: _organization(orgs_table, org_id, server.dev_mode) for org_id in orgs_table.data
    }
    if not organizations and "organizations" in data:
        problems.append("organizations: at least one organization is required")
    clients_table = root.sub("clients")
    clients = {cid: _client(clients_table, cid, server.dev_mode) for cid in clients_table.data}
    root.done()
    return Settings(server, database, oidc, organizations, clients)


def _server(r: TableReader) -> ServerSettings:
    dev_mode = r.boolean("dev_mode", False)
    issuer = r.string("issuer")
    _check_url(r, "issuer", issuer, dev_mode)
    if issuer.endswith("/") or "?" in issuer:
        r.problem("issuer", "must not end with '/' or have a query")
    secret_key = r.string("secret_key", "", secret=True)
    if not secret_key and dev_mode:
        secret_key = _dev_secret_key()
    elif not secret_key:
        r.problem("secret_key", "is required (or secret_key_file, or IDP__SERVER__SECRET_KEY)")
    elif len(secret_key) < 32:
        r.problem("secret_key", "must be at least 32 characters")
    settings = ServerSettings(
        issuer=issuer,
        dev_mode=dev_mode,
        secret_key=secret_key,
        workers=r.integer("workers", 2, minimum=1, maximum=64),
        threads=r.integer("threads", 4, minimum=1, maximum=64),
        session_lifetime_s=r.integer("session_lifetime_s", 8 * 3600, minimum=60, maximum=30 * 86400),
        trust_forwarded_headers=r.boolean("trust_forwarded_headers", False),
        tls_cert_file=r.string("tls_cert_file", ""),
        tls_key_file=r.string("tls_key_file", ""),
    )
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        r.problem("tls_cert_file", "tls_cert_file and tls_key_file go together")
    for key in ("tls_cert_file", "tls_key_file"):
        value = getattr(settings, key)
        if value and not Path(value).is_file():
            r.problem(key, f"{value!r} is not a readable file")
    r.done()
    return settings


def _dev_secret_key() -> str:
    """Dev mode only: a random secret kept in var/ so sessions survive a restart."""
    if DEV_SECRET_FILE.exists():
        return DEV_SECRET_FILE.read_text(encoding="utf-8").strip()
    DEV_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    DEV_SECRET_FILE.write_text(key, encoding="utf-8")
    DEV_SECRET_FILE.chmod(0o600)
    return key


def _oidc(r: TableReader) -> OidcSettings:
    settings = OidcSettings(
        code_lifetime_s=r.integer("code_lifetime_s", 60, minimum=10, maximum=600),
        access_token_lifetime_s=r.integer("access_token_lifetime_s", 3600, minimum=60, maximum=86400),
        id_token_lifetime_s=r.integer("id_token_lifetime_s", 3600, minimum=60, maximum=86400),
        refresh_token_lifetime_s=r.integer("refresh_token_lifetime_s", 30 * 86400,
                                           minimum=60, maximum=366 * 86400),
        refresh_token_idle_lifetime_s=r.integer("refresh_token_idle_lifetime_s", 7 * 86400,
                                                minimum=60, maximum=366 * 86400),
    )
    if settings.refresh_token_idle_lifetime_s > settings.refresh_token_lifetime_s:
        r.problem("refresh_token_idle_lifetime_s", "must not be longer than refresh_token_lifetime_s")
    r.done()
    return settings


def _organization(table: TableReader, org_id: str, dev_mode: bool) -> OrganizationSettings:
    r = table.sub(org_id, required=True)
    if not _ID.match(org_id):
        r.problems.append(f"{r.path}: an organization id is lower-case letters, digits, '-' or '_'")
    org = OrganizationSettings(
        id=org_id,
        name=r.string("name"),
        name_ru=r.string("name_ru", ""),
        scope=r.string("scope"),
        directory=_directory(r.sub("directory", required=True), dev_mode),
    )
    r.done()
    return org


def _directory(r: TableReader, dev_mode: bool) -> DirectorySettings:
    kind = r.choice("type", DirectoryType, DirectoryType.LDAP)
    uris = r.str_list("uris", non_empty=True)
    start_tls = r.boolean("start_tls", False)
    allow_insecure = r.boolean("allow_insecure", False)
    for uri in uris:
        scheme = urlsplit(uri).scheme
        if scheme not in ("ldap", "ldaps"):
            r.problem("uris", f"{uri!r} must start with ldap:// or ldaps://")
        elif scheme == "ldap" and not start_tls and not allow_insecure:
            r.problem("uris", f"{uri!r} is not encrypted: set start_tls = true, use ldaps://, "
                              "or say allow_insecure = true")
    user_filter = r.string("user_filter", "")
    if user_filter and ("{username}" not in user_filter or not user_filter.startswith("(")):
        r.problem("user_filter", "must be an LDAP filter containing {username}")
    settings = DirectorySettings(
        type=kind,
        uris=uris,
        base_dn=r.string("base_dn"),
        bind_dn=r.string("bind_dn", ""),
        bind_password=r.string("bind_password", "", secret=True),
        user_filter=user_filter,
        start_tls=start_tls,
        allow_insecure=allow_insecure,
        ca_file=r.string("ca_file", ""),
        timeout_s=r.number("timeout_s", 3.0, minimum=0.1, maximum=60),
        attributes=r.str_map("attributes"),
        affiliation_map=r.str_map("affiliation_map"),
    )
    if settings.ca_file and not Path(settings.ca_file).is_file():
        r.problem("ca_file", f"{settings.ca_file!r} is not a readable file")
    r.done()
    return settings


def _client(table: TableReader, client_id: str, dev_mode: bool) -> ClientSettings:
    r = table.sub(client_id, required=True)
    public = r.boolean("public", False)
    grant_types = grant_types_of(r, "grant_types", r.str_list("grant_types", ["authorization_code"]))
    redirect_uris = r.str_list("redirect_uris", [])
    secret = r.string("client_secret", "", secret=True)
    if not public and len(secret) < 16:
        r.problem("client_secret", "a confidential client needs a secret of 16 characters or more")
    if public and secret:
        r.problem("client_secret", "a public client has no secret")
    alg = r.string("id_token_signed_response_alg", "RS256")
    if alg not in SIGNING_ALGS:
        r.problem("id_token_signed_response_alg", f"must be one of {', '.join(SIGNING_ALGS)}")
    client = ClientSettings(
        client_id=client_id,
        name=r.string("name"),
        redirect_uris=redirect_uris,
        client_secret=secret,
        public=public,
        pkce=r.choice("pkce", PkcePolicy, PkcePolicy.REQUIRED),
        trusted=r.boolean("trusted", False),
        id_token_signed_response_alg=alg,
        scopes=r.str_list("scopes", list(DEFAULT_CLIENT_SCOPES)),
        grant_types=grant_types,
        access_token_format=r.choice("access_token_format", AccessTokenFormat,
                                     AccessTokenFormat.OPAQUE),
        access_token_audience=r.string("access_token_audience", ""),
        refresh_token_policy=r.choice("refresh_token_policy", RefreshTokenPolicy,
                                      RefreshTokenPolicy.OFFLINE_ACCESS),
    )
    if public and client.pkce is not PkcePolicy.REQUIRED:
        r.problem("pkce", "a public client must use PKCE: set pkce = \"required\"")
    check_client_capabilities(r, client, dev_mode)
    r.done()
    return client


def grant_types_of(r: TableReader, key: str, values: tuple[str, ...] | list[str]) -> tuple[GrantType, ...]:
    """Known grant types, each once, in the order given; every unknown one is a problem."""
    known: list[GrantType] = []
    for value in values:
        try:
            grant = GrantType(value)
        except ValueError:
            allowed = ", ".join(g.value for g in GrantType)
            r.problem(key, f"{value!r} is not a supported grant type ({allowed})")
            continue
        if grant not in known:
            known.append(grant)
    if not values:
        r.problem(key, "must not be empty")
    return tuple(known)


def check_client_capabilities(r: TableReader, client: ClientSettings, dev_mode: bool,
                              redirect_key: str = "redirect_uris") -> None:
    """What the grant types need (RFC 6749 4.1, 4.4, 6) and what the scopes may be."""
    grants = set(client.grant_types)
    if GrantType.AUTHORIZATION_CODE in grants:
        if not client.redirect_uris:
            r.problem(redirect_key, "the authorization_code grant needs at least one redirect URI")
        for uri in client.redirect_uris:
            check_redirect_uri(r, redirect_key, uri, dev_mode)
    elif client.redirect_uris:
        r.problem(redirect_key, "only a client of the authorization_code grant has redirect URIs")
    if GrantType.REFRESH_TOKEN in grants and GrantType.AUTHORIZATION_CODE not in grants:
        r.problem("grant_types", "refresh_token is only issued with authorization_code")
    if GrantType.CLIENT_CREDENTIALS in grants and client.public:
        r.problem("grant_types", "client_credentials is for confidential clients only")
    if (client.refresh_token_policy is RefreshTokenPolicy.ALWAYS
            and GrantType.REFRESH_TOKEN not in grants):
        r.problem("refresh_token_policy", "\"always\" needs the refresh_token grant type")
    for scope in client.scopes:
        if not _SCOPE_TOKEN.match(scope):
            r.problem("scopes", f"{scope!r} is not a scope token (printable ASCII, no space, "
                                "quote or backslash, 64 characters at most)")
    audience = client.access_token_audience
    if audience and (not urlsplit(audience).scheme or "#" in audience):
        r.problem("access_token_audience", f"{audience!r} must be an absolute URI without fragment")


def check_redirect_uri(r: TableReader, key: str, uri: str, dev_mode: bool) -> None:
    """Absolute, no fragment, https (plain http only to loopback in dev mode)."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        r.problem(key, f"{uri!r} must be an absolute URI")
    elif parts.fragment or "#" in uri:
        r.problem(key, f"{uri!r} must not contain a fragment")
    elif parts.scheme == "http" and not (dev_mode and _is_loopback(parts.hostname)):
        r.problem(key, f"{uri!r} must use https (http only to loopback in dev mode)")
    elif parts.scheme not in ("http", "https"):
        r.problem(key, f"{uri!r} must use https")


def _check_url(r: TableReader, key: str, url: str, dev_mode: bool) -> None:
    parts = urlsplit(url)
    if not url:
        return
    if parts.scheme not in ("http", "https") or not parts.netloc:
        r.problem(key, f"{url!r} must be an absolute http(s) URL")
    elif parts.scheme == "http" and not dev_mode:
        r.problem(key, f"{url!r} must use https unless dev_mode = true")


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "::1") or bool(host and host.startswith("127."))
