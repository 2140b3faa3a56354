"""``idp directory sync`` as an operator runs it against real slapd directories: the JSON
result per organization, exit 3 with the result printed when the brake holds, and exit 2 for
an organization that is not configured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo import people
from demo.slapd import SlapdServer
from demo.toml_writer import dumps
from tests.cli.test_cli import run

KEYS = {"organization", "seen", "new", "changed", "disabled", "gone", "grants_ended", "stopped"}
NOBODY = "(&(objectClass=inetOrgPerson)(uid={username})(title=nobody))"


@pytest.fixture
def servers() -> Iterator[dict[str, SlapdServer]]:
    started = {org_id: people.organization(org_id).server().start() for org_id in ("tpu", "tusur")}
    try:
        yield started
    finally:
        for server in started.values():
            server.close()


def write_config(path: Path, database_url: str, servers: dict[str, SlapdServer],
                 **tpu: Any) -> Path:
    organizations = {org_id: people.organization(org_id).config([server.uri], timeout_s=2)
                     for org_id, server in servers.items()}
    organizations["tpu"]["directory"].update(tpu)
    path.write_text(dumps({
        "server": {"issuer": "http://127.0.0.1:8080", "dev_mode": True,
                   "secret_key": "cli-tests-secret-key-0123456789abcdef"},
        "database": {"url": database_url},
        "organizations": organizations,
    }), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path, database_url: str, servers: dict[str, SlapdServer]) -> Path:
    path = write_config(tmp_path / "idp.toml", database_url, servers)
    assert run("--config", str(path), "db", "upgrade").exit_code == 0
    return path


def test_a_sync_prints_one_object_per_organization(config: Path) -> None:
    result = run("--config", str(config), "directory", "sync", "--json")
    assert result.exit_code == 0, result.output
    bodies = json.loads(result.output)
    assert [b["organization"] for b in bodies] == ["tpu", "tusur"]
    assert all(set(b) == KEYS for b in bodies)
    assert [(b["seen"], b["new"], b["stopped"]) for b in bodies] == [
        (len(people.TPU.people), len(people.TPU.people), None),
        (len(people.TUSUR.people), len(people.TUSUR.people), None)]
    again = run("--config", str(config), "directory", "sync", "--org", "tpu", "--full", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == {
        "organization": "tpu", "seen": len(people.TPU.people), "new": 0, "changed": 0,
        "disabled": 0, "gone": 0, "grants_ended": 0, "stopped": None}


def test_an_unknown_organization_is_invalid_input(config: Path) -> None:
    result = run("--config", str(config), "directory", "sync", "--org", "nowhere", "--json")
    assert result.exit_code == 2
    assert "nowhere" in result.output and result.output.count("{") == 0


def test_a_directory_listing_nobody_exits_3_until_removals_are_accepted(
        config: Path, database_url: str, servers: dict[str, SlapdServer]) -> None:
    assert run("--config", str(config), "directory", "sync", "--org", "tpu").exit_code == 0
    write_config(config, database_url, servers, user_filter=NOBODY)
    held = run("--config", str(config), "directory", "sync", "--org", "tpu", "--full", "--json")
    assert held.exit_code == 3
    body = json.loads(held.output)
    assert (body["seen"], body["gone"], body["grants_ended"]) == (0, len(people.TPU.people), 0)
    assert "no accounts" in body["stopped"]
    human = run("--config", str(config), "directory", "sync", "--org", "tpu", "--full")
    assert human.exit_code == 3 and "STOPPED" in human.output
    accepted = run("--config", str(config), "directory", "sync", "--org", "tpu", "--full",
                   "--accept-removals", "--json")
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(accepted.output)["stopped"] is None
    after = run("--config", str(config), "directory", "sync", "--org", "tpu", "--full", "--json")
    assert after.exit_code == 0 and json.loads(after.output)["gone"] == 0  # nobody left to lose
