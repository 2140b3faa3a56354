"""Settings: the example file is valid and complete, overrides and secret files work, and
every problem of a broken file is listed at once with its key."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from idp.errors import ConfigError
from idp.settings import Settings, model
from idp.settings.load import load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "idp.example.toml"
SECRET = {"IDP__SERVER__SECRET_KEY": "s" * 40}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "idp.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
[server]
issuer = "https://id.example.org"
secret_key = "0123456789abcdef0123456789abcdef"
[organizations.tpu]
name = "TPU"
scope = "tpu.ru"
[organizations.tpu.directory]
uris = ["ldaps://ldap.tpu.ru"]
base_dn = "ou=people,dc=tpu,dc=ru"
"""


def test_example_file_is_valid() -> None:
    settings = load_settings(EXAMPLE, SECRET)
    assert settings.server.issuer == "http://127.0.0.1:8080"
    assert settings.organizations["tpu"].directory.uris == (
        "ldap://127.0.0.1:3891", "ldap://127.0.0.1:3892")
    assert settings.clients["sample-rp"].redirect_uris == ("http://127.0.0.1:8081/callback",)


def test_example_file_documents_every_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.MULTILINE))
    documented |= set(re.findall(r"^\[[a-z_.-]+\.([a-z_]+)\]", text, flags=re.MULTILINE))
    missing = set()
    for cls in (model.ServerSettings, model.DatabaseSettings, model.OidcSettings,
                model.DirectorySettings, model.ClientSettings, model.OrganizationSettings,
                model.ThrottleSettings, model.ThrottleSchedule, model.LinkingSettings,
                model.LinkingRule, model.RolesSettings, model.AdminSettings,
                model.HealthSettings):
        assert is_dataclass(cls)
        for f in fields(cls):
            if f.name not in documented and f.name not in {"id", "client_id", "directory"}:
                missing.add(f"{cls.__name__}.{f.name}")
    assert not missing


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), {})
    assert isinstance(settings, Settings)
    assert settings.database.url == "sqlite:///var/idp.sqlite3"
    assert settings.organizations["tpu"].directory.timeout_s == 3.0


def test_environment_overrides_nested_keys(tmp_path: Path) -> None:
    env = {
        "IDP__ORGANIZATIONS__TPU__DIRECTORY__TIMEOUT_S": "1.5",
        "IDP__ORGANIZATIONS__TPU__DIRECTORY__URIS": '["ldaps://a", "ldaps://b"]',
        "IDP__DATABASE__URL": "postgresql+psycopg://idp@db/idp",
        "PATH": "/usr/bin",
    }
    settings = load_settings(write(tmp_path, MINIMAL), env)
    assert settings.organizations["tpu"].directory.timeout_s == 1.5
    assert settings.organizations["tpu"].directory.uris == ("ldaps://a", "ldaps://b")
    assert settings.database.url == "postgresql+psycopg://idp@db/idp"


def test_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "bind"
    secret_file.write_text("from-a-file\n", encoding="utf-8")
    text = MINIMAL + f'bind_password_file = "{secret_file}"\n'
    settings = load_settings(write(tmp_path, text), {})
    assert settings.organizations["tpu"].directory.bind_password == "from-a-file"


def test_every_problem_is_listed_with_its_key(tmp_path: Path) -> None:
    broken = """
[server]
issuer = "http://id.example.org/"
workers = "many"
colour = "blue"
[organizations.TPU]
name = "TPU"
[organizations.TPU.directory]
uris = ["http://ldap", "ldap://plain"]
base_dn = "dc=x"
timeout_s = 0
user_filter = "uid=*"
[clients.rp]
name = "RP"
redirect_uris = ["https://rp.example.org/cb#frag", "relative/cb"]
public = true
pkce = "optional"
"""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, broken), {})
    problems = "\n".join(caught.value.problems)
    for expected in (
        "server.issuer: 'http://id.example.org/' must use https",
        "server.issuer: must not end with '/'",
        "server.workers: must be a number",
        "server.colour: is not a known setting",
        "server.secret_key: is required",
        "organizations.TPU: an organization id is lower-case",
        "organizations.TPU.scope: is required",
        "organizations.TPU.directory.uris: 'http://ldap' must start with ldap://",
        "organizations.TPU.directory.uris: 'ldap://plain' is not encrypted",
        "organizations.TPU.directory.timeout_s: must be between",
        "organizations.TPU.directory.user_filter: must be an LDAP filter",
        "clients.rp.redirect_uris: 'https://rp.example.org/cb#frag' must not contain a fragment",
        "clients.rp.redirect_uris: 'relative/cb' must be an absolute URI",
        "clients.rp.pkce: a public client must use PKCE",
    ):
        assert expected in problems


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(tmp_path / "missing.toml", {})
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(write(tmp_path, "[server\nissuer="), {})


def test_unknown_environment_override_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IDP__NOPE__X: does not name a setting"):
        load_settings(write(tmp_path, MINIMAL), {"IDP__NOPE__X": "1"})


def test_throttle_settings_default_and_override(tmp_path: Path) -> None:
    defaults = load_settings(write(tmp_path, MINIMAL), {}).throttle
    assert defaults.enabled and not defaults.redis_url
    assert (defaults.account.free_failures, defaults.address.free_failures) == (5, 20)
    env = {"IDP__THROTTLE__REDIS_URL": "redis://cache:6379/2",
           "IDP__THROTTLE__ADDRESS__FREE_FAILURES": "300"}
    changed = load_settings(write(tmp_path, MINIMAL), env).throttle
    assert changed.redis_url == "redis://cache:6379/2" and changed.address.free_failures == 300
    assert changed.account == defaults.account


def test_throttle_problems_are_listed_with_their_keys(tmp_path: Path) -> None:
    broken = MINIMAL + """
[throttle]
redis_url = "http://cache:6379"
burst = 3
[throttle.account]
free_failures = 0
base_delay_s = 10
max_delay_s = 5
[throttle.address]
forget_s = "soon"
"""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, broken), {})
    problems = "\n".join(caught.value.problems)
    for expected in (
        "throttle.redis_url: must start with redis://, rediss:// or unix://",
        "throttle.burst: is not a known setting",
        "throttle.account.free_failures: must be between 1 and 100000",
        "throttle.account.max_delay_s: must not be shorter than base_delay_s",
        "throttle.address.forget_s: must be a number",
    ):
        assert expected in problems
