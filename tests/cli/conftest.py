"""The command-line tests' shared fixture: a configuration over an empty, migrated database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import CONFIG


@pytest.fixture
def config(tmp_path: Path, migrated_database_url: str) -> Path:
    """Modules that test `idp db upgrade` itself define their own, unmigrated one."""
    path = tmp_path / "idp.toml"
    path.write_text(CONFIG.format(url=migrated_database_url), encoding="utf-8")
    return path
