"""``[access]``, ``[connectors]``, ``[delivery]`` and the directory sync keys: the example file
documents and loads them, absent keys take their defaults, and a broken file gets every problem
at once, each with its key, from the loader and from ``idp check-config`` alike."""

from __future__ import annotations

import base64
import re
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.registry import CONNECTOR_TYPES
from idp.cli import main
from idp.errors import ConfigError
from idp.settings import model
from idp.settings.load import load_settings
from idp.settings.model import ResourceKind, Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "idp.example.toml"
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()

BASE = """
[server]
issuer = "https://id.example.org"
secret_key = "0123456789abcdef0123456789abcdef"
[organizations.tpu]
name = "TPU"
scope = "tpu.ru"
[organizations.tpu.directory]
uris = ["ldaps://ldap.tpu.ru"]
base_dn = "ou=people,dc=tpu,dc=ru"
[organizations.tpu.directory.attributes]
programme = "campusProgramme"
[organizations.tsu]
name = "TSU"
scope = "tsu.ru"
[organizations.tsu.directory]
uris = ["ldaps://ldap.tsu.ru"]
base_dn = "ou=people,dc=tsu,dc=ru"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "idp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Settings:
    return load_settings(write(tmp_path, BASE + text), {})


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return list(caught.value.problems)


def test_example_documents_every_access_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.MULTILINE))
    expected = {f.name for cls in (model.ResourceSettings, model.PolicySettings,
                                   model.DeliverySettings) for f in fields(cls)} - {"id"}
    expected |= {"sync_interval_s", "disabled_filter", "sync_page_size", "max_removal_fraction",
                 "max_removal_floor"}
    expected |= {"type", "url", "secret_file", "timeout_s"}  # [connectors.NAME] of type webhook
    assert expected - documented == set()
    for table in ("[access.resources.", "[access.policies.", "[connectors.", "[delivery]"):
        assert f"\n{table}" in text


def test_example_loads_its_access_sections() -> None:
    settings = load_settings(EXAMPLE, {"IDP__SERVER__SECRET_KEY": "s" * 40})
    library = settings.access.resources["library"]
    assert (library.kind, library.provider, library.connectors) == (
        ResourceKind.LIBRARY, "tpu", ("library_webhook",))
    assert settings.access.resources["gym"].connectors == ()
    policy = settings.access.policies["students_and_staff"]
    assert policy.resources == ("library", "gym") and policy.grace_days == 30
    assert (policy.valid_from, policy.valid_until) == (date(2026, 9, 1), date(2027, 7, 1))
    connector = settings.connectors["library_webhook"]
    assert connector.type == "webhook" and connector.options["secret"].startswith("whsec_")
    assert settings.delivery == model.DeliverySettings()
    directory = settings.organizations["tpu"].directory
    assert (directory.sync_interval_s, directory.max_removal_fraction,
            directory.max_removal_floor, directory.sync_page_size) == (0, 0.05, 20, 500)


def test_absent_keys_take_their_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, """
[access.resources.gym]
name = "Gym"
kind = "sports"
[access.policies.everyone]
resources = ["gym"]
""")
    gym = settings.access.resources["gym"]
    assert (gym.name_ru, gym.provider, gym.connectors, gym.entitlement) == ("", "", (), "")
    everyone = settings.access.policies["everyone"]
    assert (everyone.organizations, everyone.affiliations, dict(everyone.attributes),
            everyone.valid_from, everyone.valid_until, everyone.grace_days) == (
        (), (), {}, None, None, 0)
    assert settings.connectors == {} and settings.delivery == model.DeliverySettings()


def test_a_full_access_section_loads(tmp_path: Path) -> None:
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    text = BASE.replace('base_dn = "ou=people,dc=tpu,dc=ru"\n',
                        'base_dn = "ou=people,dc=tpu,dc=ru"\nsync_interval_s = 3600\n'
                        'disabled_filter = "(pwdAccountLockedTime=*)"\nsync_page_size = 1000\n'
                        'max_removal_fraction = 0.1\nmax_removal_floor = 5\n', 1)
    text += f"""
[access.resources.library]
name = "Library"
name_ru = "Библиотека"
kind = "library"
provider = "tsu"
connectors = ["lib"]
entitlement = "urn:mace:dir:entitlement:common-lib-terms"
[access.policies.joint]
resources = ["library"]
organizations = ["tpu", "tsu"]
affiliations = ["student"]
attributes = {{ programme = ["JM-AI-2026"], affiliation = ["student"] }}
valid_from = 2026-09-01
valid_until = "2027-07-01"
grace_days = 30
[connectors.lib]
type = "webhook"
url = "http://127.0.0.1:8090/hook"
secret_file = "{secret_file}"
timeout_s = 5
[delivery]
first_retry_s = 0.5
max_retry_s = 2
max_age_s = 60
claim_timeout_s = 5
batch_size = 10
poll_interval_s = 0.2
"""
    settings = load_settings(write(tmp_path, text), {})
    joint = settings.access.policies["joint"]
    assert joint.valid_from == date(2026, 9, 1) and joint.valid_until == date(2027, 7, 1)
    assert dict(joint.attributes) == {"programme": ("JM-AI-2026",), "affiliation": ("student",)}
    assert settings.connectors["lib"].options == {
        "url": "http://127.0.0.1:8090/hook", "secret": SECRET, "timeout_s": 5}
    assert "whsec_" not in repr(settings.connectors["lib"])
    assert settings.delivery == model.DeliverySettings(0.5, 2, 60, 5, 10, 0.2)
    directory = settings.organizations["tpu"].directory
    assert (directory.sync_interval_s, directory.disabled_filter, directory.sync_page_size,
            directory.max_removal_fraction, directory.max_removal_floor) == (
        3600, "(pwdAccountLockedTime=*)", 1000, 0.1, 5)


BROKEN = """
[access.resources.library]
name = "Library"
kind = "bookshop"
provider = "mit"
connectors = ["library_scim", "hook"]
entitlement = "not a uri"
[access.resources.Gym]
name = "Gym"
kind = "sports"
[access.policies.everyone]
resources = ["library", "pool"]
organizations = ["tpu", "harvard"]
attributes = { favourite_colour = ["blue"], snils = ["112-233-445 95"] }
valid_from = "2026-13-01"
valid_until = "someday"
[access.policies.backwards]
resources = ["library"]
valid_from = "2027-07-01"
valid_until = "2026-09-01"
grace_days = -1
colour = "red"
[access.policies.empty]
resources = []
[connectors.hook]
type = "webhook"
url = "ftp://hooks.example.org"
secret = "not-a-whsec"
[connectors.ldap_push]
type = "carrier_pigeon"
url = "https://example.org"
[delivery]
first_retry_s = 60
max_retry_s = 10
batch_size = 0
"""

EXPECTED = (
    "access.resources.library.kind: must be one of 'library', 'sports', 'culture', 'course', "
    "'service', not 'bookshop'",
    "access.resources.library.provider: 'mit' is not a configured organization",
    "access.resources.library.connectors: 'library_scim' is not a connector in [connectors]",
    "access.resources.library.entitlement: 'not a uri' is not a URI",
    "access.resources.Gym: a resource id is lower-case letters",
    "access.policies.everyone.resources: 'pool' is not a resource in [access.resources]",
    "access.policies.everyone.organizations: 'harvard' is not a configured organization",
    "access.policies.everyone.attributes.favourite_colour: no organization maps "
    "'favourite_colour'",
    "access.policies.everyone.attributes.snils: 'snils' is an identifier used only for linking",
    "access.policies.everyone.valid_from: '2026-13-01' is not a date (YYYY-MM-DD)",
    "access.policies.everyone.valid_until: 'someday' is not a date (YYYY-MM-DD)",
    "access.policies.backwards.valid_until: must be after valid_from",
    "access.policies.backwards.grace_days: must be between 0 and 3650",
    "access.policies.backwards.colour: is not a known setting",
    "access.policies.empty.resources: must not be empty",
    "connectors.hook.url: must be an http(s) URL",
    "connectors.hook.secret: must be a Standard Webhooks secret",
    "connectors.ldap_push.type: 'carrier_pigeon' is not a connector type "
    f"(known: {', '.join(sorted(CONNECTOR_TYPES))})",
    "delivery.max_retry_s: must not be less than first_retry_s",
    "delivery.batch_size: must be between 1 and 10000",
)


def test_every_access_problem_is_listed_at_once(tmp_path: Path) -> None:
    problems = "\n".join(problems_of(tmp_path, BROKEN))
    missing = [expected for expected in EXPECTED if expected not in problems]
    assert missing == [], problems
    # "hook" is configured, wrongly: its own keys are the problem, not the resource naming it.
    assert "'hook' is not a connector" not in problems


def test_check_config_prints_every_access_problem_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + BROKEN)
    result = CliRunner().invoke(main, ["--config", str(path), "check-config"],
                                catch_exceptions=False)
    assert result.exit_code == 2
    missing = [expected for expected in EXPECTED if expected not in result.output]
    assert missing == [], result.output
    assert "Configuration is valid" not in result.output


def test_check_config_accepts_a_valid_access_section(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + """
[access.resources.gym]
name = "Gym"
kind = "sports"
provider = "tpu"
[access.policies.students]
resources = ["gym"]
affiliations = ["student"]
attributes = { programme = ["JM-AI-2026"] }
""")
    result = CliRunner().invoke(main, ["--config", str(path), "check-config"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Configuration is valid" in result.output


def test_a_connector_secret_is_never_printed(tmp_path: Path) -> None:
    wrong = "whsec_c2hvcnQ="  # base64 of "short": too few bytes
    path = write(tmp_path, BASE + f"""
[connectors.hook]
type = "webhook"
url = "https://hooks.example.org/in"
secret = "{wrong}"
""")
    result = CliRunner().invoke(main, ["--config", str(path), "check-config"],
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert "connectors.hook.secret: " in result.output
    assert "c2hvcnQ" not in result.output


def test_an_unreadable_secret_file_is_a_problem(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, f"""
[connectors.hook]
type = "webhook"
url = "https://hooks.example.org/in"
secret_file = "{tmp_path / 'missing.secret'}"
""")
    assert any(p.startswith("connectors.hook.secret_file: cannot be read") for p in problems), problems


def test_directory_sync_problems_are_listed_with_their_keys(tmp_path: Path) -> None:
    text = BASE.replace('base_dn = "ou=people,dc=tsu,dc=ru"\n',
                        'base_dn = "ou=people,dc=tsu,dc=ru"\nsync_interval_s = -5\n'
                        'disabled_filter = "pwdAccountLockedTime=*"\nsync_page_size = 0\n'
                        'max_removal_fraction = 1.5\nmax_removal_floor = "many"\n', 1)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    problems = "\n".join(caught.value.problems)
    for expected in (
        "organizations.tsu.directory.sync_interval_s: must be between 0 and 604800",
        "organizations.tsu.directory.disabled_filter: must be an LDAP filter in parentheses",
        "organizations.tsu.directory.sync_page_size: must be between 1 and 10000",
        "organizations.tsu.directory.max_removal_fraction: must be between 0 and 1",
        "organizations.tsu.directory.max_removal_floor: must be a number",
    ):
        assert expected in problems, problems
