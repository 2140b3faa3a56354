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
from idp.settings.access import parse_access, parse_connectors, parse_delivery
from idp.settings.clients import parse_client
from idp.settings.health import parse_health
from idp.settings.keys import parse_keys
from idp.settings.logs import parse_logging
from idp.settings.metrics import parse_metrics
from idp.settings.model import (
    DatabaseSettings,
    DirectorySettings,
    DirectoryType,
    LinkAction,
    LinkingRule,
    LinkingSettings,
    MatchClaim,
    OidcSettings,
    OrganizationSettings,
    ServerEngine,
    ServerSettings,
    Settings,
    ThrottleSchedule,
    ThrottleSettings,
)
from idp.settings.outbound import parse_outbound
from idp.settings.passes import parse_pass
from idp.settings.reader import TableReader
from idp.settings.roles import role_problem
from idp.settings.staff import parse_admin, parse_helpdesk, parse_roles

ENV_PREFIX = "IDP__"
DEV_SECRET_FILE = Path("var/secret_key")
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_TOP_LEVEL = {"server", "database", "oidc", "organizations", "clients", "throttle",
              "linking", "roles", "admin", "helpdesk", "keys", "outbound", "pass",
              "health", "metrics", "logging"}


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
    clients = {cid: parse_client(clients_table, cid, server.dev_mode) for cid in clients_table.data}
    throttle = _throttle(root.sub("throttle"))
    linking = _linking(root.sub("linking"), organizations)
    for cid, client in clients.items():
        problems.extend(f"clients.{cid}.roles: {p}" for role in client.roles
                        if (p := role_problem(role, organizations)))
    roles = parse_roles(root.sub("roles"), organizations)
    admin = parse_admin(root.sub("admin"))
    helpdesk = parse_helpdesk(root.sub("helpdesk"))
    keys = parse_keys(root.sub("keys"))
    outbound = parse_outbound(root.sub("outbound"), server.dev_mode)
    connectors = parse_connectors(root.sub("connectors"))
    access = parse_access(root.sub("access"), organizations, frozenset(connectors))
    delivery = parse_delivery(root.sub("delivery"))
    passes = parse_pass(root.sub("pass"))
    health = parse_health(root.sub("health"), organizations, throttle)
    metrics = parse_metrics(root.sub("metrics"))
    logging = parse_logging(root.sub("logging"), server.dev_mode)
    root.done()
    return Settings(server, database, oidc, organizations, clients, throttle=throttle,
                    linking=linking, roles=roles, admin=admin, helpdesk=helpdesk, keys=keys,
                    outbound=outbound,
                    access=access, connectors=connectors, delivery=delivery,
                    passes=passes, health=health, metrics=metrics, logging=logging)


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
        threads=r.integer("threads", 2, minimum=1, maximum=64),
        session_lifetime_s=r.integer("session_lifetime_s", 8 * 3600, minimum=60, maximum=30 * 86400),
        trust_forwarded_headers=r.boolean("trust_forwarded_headers", False),
        tls_cert_file=r.string("tls_cert_file", ""),
        tls_key_file=r.string("tls_key_file", ""),
        engine=r.choice("engine", ServerEngine, ServerEngine.GRANIAN),
        spread_connections=r.boolean("spread_connections", True),
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


def _throttle(r: TableReader) -> ThrottleSettings:
    defaults = ThrottleSettings()
    redis_url = r.string("redis_url", "", secret=True)
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        r.problem("redis_url", "must start with redis://, rediss:// or unix://")
    settings = ThrottleSettings(
        enabled=r.boolean("enabled", True),
        redis_url=redis_url,
        key_prefix=r.string("key_prefix", defaults.key_prefix),
        account=_throttle_schedule(r.sub("account"), defaults.account),
        address=_throttle_schedule(r.sub("address"), defaults.address),
    )
    r.done()
    return settings


def _throttle_schedule(r: TableReader, default: ThrottleSchedule) -> ThrottleSchedule:
    schedule = ThrottleSchedule(
        free_failures=r.integer("free_failures", default.free_failures, minimum=1, maximum=100_000),
        base_delay_s=r.number("base_delay_s", default.base_delay_s, minimum=0.1, maximum=3600),
        max_delay_s=r.number("max_delay_s", default.max_delay_s, minimum=0.1, maximum=86400),
        forget_s=r.number("forget_s", default.forget_s, minimum=0.1, maximum=86400),
    )
    if schedule.max_delay_s < schedule.base_delay_s:
        r.problem("max_delay_s", "must not be shorter than base_delay_s")
    r.done()
    return schedule


def _linking(r: TableReader, organizations: Mapping[str, OrganizationSettings]) -> LinkingSettings:
    rules_table = r.sub("rules")
    rules = {name: _linking_rule(rules_table, name) for name in rules_table.data}
    precedence = r.str_list("primary_precedence", [])
    for org in precedence:
        if org not in organizations:
            r.problem("primary_precedence", f"{org!r} is not a configured organization")
    if len(set(precedence)) != len(precedence):
        r.problem("primary_precedence", "names an organization twice")
    trust = _linking_trust(r.sub("trust"), organizations)
    r.done()
    return LinkingSettings(rules=rules, primary_precedence=precedence, trust=trust)


def _linking_trust(r: TableReader, organizations: Mapping[str, OrganizationSettings],
                   ) -> Mapping[str, frozenset[str]]:
    """``trust = { tpu = ["tsu"] }``: the organizations whose accounts an account of tpu may
    join by rule without review (its own always); an organization not listed trusts all."""
    trust: dict[str, frozenset[str]] = {}
    for org in r.data:
        if org not in organizations:
            r.problem(org, "is not a configured organization")
        trusted = r.str_list(org)
        for other in trusted:
            if other not in organizations:
                r.problem(org, f"{other!r} is not a configured organization")
        trust[org] = frozenset(trusted) | {org}
    r.done()
    return trust


def _linking_rule(table: TableReader, name: str) -> LinkingRule:
    r = table.sub(name, required=True)
    if not _ID.match(name):
        r.problems.append(f"{r.path}: a rule name is lower-case letters, digits, '-' or '_'")
    claims: list[MatchClaim] = []
    for claim in r.str_list("match", non_empty=True):
        if claim not in {c.value for c in MatchClaim}:
            known = ", ".join(repr(c.value) for c in MatchClaim)
            r.problem("match", f"{claim!r} is not a claim linking can compare (one of {known})")
        elif MatchClaim(claim) in claims:
            r.problem("match", f"{claim!r} is named twice")
        else:
            claims.append(MatchClaim(claim))
    rule = LinkingRule(name=name, match=tuple(claims), action=r.choice("action", LinkAction))
    r.done()
    return rule


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
        admin_group_dn=r.string("admin_group_dn", ""),
        helpdesk_group_dn=r.string("helpdesk_group_dn", ""),
        sync_interval_s=r.integer("sync_interval_s", 0, minimum=0, maximum=7 * 86400),
        disabled_filter=r.string("disabled_filter", ""),
        sync_page_size=r.integer("sync_page_size", 500, minimum=1, maximum=10000),
        max_removal_fraction=r.number("max_removal_fraction", 0.05, minimum=0, maximum=1),
        max_removal_floor=r.integer("max_removal_floor", 20, minimum=0, maximum=10_000_000),
    )
    if settings.disabled_filter and not (settings.disabled_filter.startswith("(")
                                         and settings.disabled_filter.endswith(")")):
        r.problem("disabled_filter", "must be an LDAP filter in parentheses")
    if settings.admin_group_dn and "=" not in settings.admin_group_dn:
        r.problem("admin_group_dn", f"{settings.admin_group_dn!r} is not a DN")
    if settings.helpdesk_group_dn and "=" not in settings.helpdesk_group_dn:
        r.problem("helpdesk_group_dn", f"{settings.helpdesk_group_dn!r} is not a DN")
    if settings.ca_file and not Path(settings.ca_file).is_file():
        r.problem("ca_file", f"{settings.ca_file!r} is not a readable file")
    r.done()
    return settings


def _check_url(r: TableReader, key: str, url: str, dev_mode: bool) -> None:
    parts = urlsplit(url)
    if not url:
        return
    if parts.scheme not in ("http", "https") or not parts.netloc:
        r.problem(key, f"{url!r} must be an absolute http(s) URL")
    elif parts.scheme == "http" and not dev_mode:
        r.problem(key, f"{url!r} must use https unless dev_mode = true")
