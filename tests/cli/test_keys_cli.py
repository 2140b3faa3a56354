"""``idp keys`` as an operator runs it: rotate publishes a pending key, list shows the states,
retire refuses what would break validation, and every refusal exits 2 changing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from idp.storage import audit
from idp.storage.base import make_engine, make_session_factory
from idp.storage.keys import SigningKey
from tests.cli.test_cli import CONFIG, run


def keys(config: Path) -> list[dict[str, Any]]:
    result = run("--config", str(config), "keys", "list", "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def key_count(database_url: str) -> int:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        count = db.scalar(select(func.count(SigningKey.id)))
    engine.dispose()
    return int(count or 0)


def test_rotate_adds_a_pending_key_that_list_shows_next_to_the_active_one(
        config: Path, database_url: str) -> None:
    assert {(k["alg"], k["state"]) for k in keys(config)} == {
        ("ES256", "active"), ("RS256", "active"), ("EdDSA", "active")}
    result = run("--config", str(config), "keys", "rotate", "--alg", "EdDSA")
    assert result.exit_code == 0, result.output
    assert "EdDSA" in result.output and "published now, signs from" in result.output
    states = sorted((k["alg"], k["state"]) for k in keys(config))
    assert states == [("ES256", "active"), ("EdDSA", "active"), ("EdDSA", "pending"),
                      ("RS256", "active")]
    text = run("--config", str(config), "keys", "list").output
    assert "pending" in text and "signs from" in text
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        rotated = audit.events(db, audit.AuditEventType.KEY_ROTATED)
    engine.dispose()
    assert [e.details["alg"] for e in rotated] == ["EdDSA"]


def test_a_second_rotation_while_one_is_pending_is_refused(config: Path, database_url: str) -> None:
    assert run("--config", str(config), "keys", "rotate").exit_code == 0
    count = key_count(database_url)
    result = run("--config", str(config), "keys", "rotate", "--alg", "RS256")
    assert result.exit_code == 2
    assert "Nothing rotated: RS256 already has key" in result.output
    assert key_count(database_url) == count


def test_retire_refuses_the_signing_key_and_retires_a_pending_one(config: Path) -> None:
    active = next(k["kid"] for k in keys(config) if k["alg"] == "ES256")
    result = run("--config", str(config), "keys", "retire", "--kid", active)
    assert result.exit_code == 2
    assert "signs ES256 tokens now" in result.output
    assert run("--config", str(config), "keys", "rotate", "--alg", "ES256").exit_code == 0
    pending = next(k["kid"] for k in keys(config) if k["state"] == "pending")
    result = run("--config", str(config), "keys", "retire", "--kid", pending)
    assert result.exit_code == 0, result.output
    assert {k["kid"]: k["state"] for k in keys(config)}[pending] == "retired"
    result = run("--config", str(config), "keys", "retire", "--kid", pending)
    assert result.exit_code == 2 and "already retired" in result.output


def test_retire_with_nothing_due_changes_nothing(config: Path, database_url: str) -> None:
    before = keys(config)
    result = run("--config", str(config), "keys", "retire")
    assert result.exit_code == 0
    assert "retired: none" in result.output
    assert keys(config) == before


def test_an_activation_delay_shorter_than_jwks_caching_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "idp.toml"
    path.write_text(CONFIG.format(url="sqlite:///unused.sqlite3") + "[keys]\nactivation_delay_s = 60\n",
                    encoding="utf-8")
    result = run("--config", str(path), "check-config")
    assert result.exit_code == 2
    assert "keys.activation_delay_s" in result.output
