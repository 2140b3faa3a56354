"""``[metrics]``: never public, every problem listed, the token from a file, documented."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from idp.settings.load import parse_settings
from idp.settings.metrics import listen_address
from idp.settings.model import MetricsSettings, Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "idp.example.toml"
TOKEN = "t" * 32


def parse(metrics: dict[str, Any]) -> tuple[Settings, list[str]]:
    data = {
        "server": {"issuer": "https://id.example.org", "secret_key": "s" * 40},
        "organizations": {"tpu": {"name": "TPU", "scope": "tpu.ru", "directory": {
            "uris": ["ldaps://ldap.tpu.ru"], "base_dn": "dc=tpu,dc=ru"}}},
        "metrics": metrics,
    }
    problems: list[str] = []
    return parse_settings(data, problems), problems


def test_disabled_by_default() -> None:
    settings, problems = parse({})
    assert not problems and settings.metrics == MetricsSettings()


def test_enabled_metrics_are_never_public() -> None:
    _, problems = parse({"enabled": True})
    assert problems == ["metrics.enabled: metrics would be public: set token (or token_file), "
                        "or listen for a separate address, or both"]


@pytest.mark.parametrize("metrics", [{"enabled": True, "token": TOKEN},
                                     {"enabled": True, "listen": "127.0.0.1:9464"},
                                     {"enabled": True, "listen": "[::1]:9464", "token": TOKEN}])
def test_a_token_or_a_separate_address_protects_them(metrics: dict[str, Any]) -> None:
    assert parse(metrics)[1] == []


def test_every_problem_at_once() -> None:
    _, problems = parse({"enabled": "yes", "token": "short", "listen": "127.0.0.1",
                         "port": 9464})
    assert problems == [
        "metrics.enabled: must be true or false",
        "metrics.token: must be at least 32 characters",
        "metrics.listen: '127.0.0.1' is not HOST:PORT (a port from 1 to 65535; an IPv6 "
        "address in brackets)",
        "metrics.port: is not a known setting",
    ]


def test_the_token_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "metrics_token"
    secret.write_text(TOKEN + "\n", encoding="utf-8")
    settings, problems = parse({"enabled": True, "token_file": str(secret)})
    assert not problems and settings.metrics.token == TOKEN
    assert TOKEN not in repr(settings.metrics)
    _, problems = parse({"enabled": True, "token_file": str(tmp_path / "missing")})
    assert problems[0].startswith("metrics.token_file: cannot be read")


@pytest.mark.parametrize(("value", "parsed"), [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:9100", ("::1", 9100)),
    ("metrics.internal:80", ("metrics.internal", 80)), ("::1:9464", None), ("9464", None),
    (":9464", None), ("host:0", None), ("host:65536", None), ("[]:80", None), ("h:x", None)])
def test_listen_addresses(value: str, parsed: tuple[str, int] | None) -> None:
    assert listen_address(value) == parsed


def test_the_example_documents_every_metrics_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    section = text.split("\n[metrics]\n", 1)[1].split("\n[", 1)[0]
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", section, flags=re.MULTILINE))
    assert {f.name for f in fields(MetricsSettings)} <= documented


def test_the_command_line_does_not_import_prometheus_client() -> None:
    """``idp serve`` chooses the multiprocess directory before prometheus_client is first
    imported (``idp.metrics.processes``): loading the commands must not import it."""
    code = "import sys, idp.cli; print('prometheus_client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "False"
