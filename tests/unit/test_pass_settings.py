"""``[pass]``: the pass lifetime and revocation list ttl, their defaults, an environment
override and the bounds (docs/connectors.md, "The sports and culture pass")."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.errors import ConfigError
from idp.settings.load import load_settings
from idp.settings.model import PassSettings
from tests.unit.test_settings import EXAMPLE, MINIMAL, SECRET, write


def test_defaults_without_the_table(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), {})
    assert settings.passes == PassSettings(lifetime_s=300, revocation_ttl_s=60)


def test_the_example_file_sets_the_documented_values() -> None:
    settings = load_settings(EXAMPLE, SECRET)
    assert settings.passes.lifetime_s == 300
    assert settings.passes.revocation_ttl_s == 60


def test_a_table_and_an_environment_override(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[pass]\nlifetime_s = 120\n")
    settings = load_settings(path, {"IDP__PASS__REVOCATION_TTL_S": "30"})
    assert settings.passes == PassSettings(lifetime_s=120, revocation_ttl_s=30)


def test_out_of_bounds_and_unknown_keys_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[pass]\nlifetime_s = 5\nrevocation_ttl_s = 0\ncolour = 1\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {})
    problems = "\n".join(raised.value.problems)
    assert "pass.lifetime_s" in problems
    assert "pass.revocation_ttl_s" in problems
    assert "pass.colour" in problems
