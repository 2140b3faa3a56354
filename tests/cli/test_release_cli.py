"""`idp clients release set|show|clear` as an operator runs them: each change stored and
audited, every mistake a clear message with exit code 2 and nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idp.storage import audit
from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import find_client
from idp.storage.release import policies_of
from tests.cli.test_cli import run


@pytest.fixture
def client_id(config: Path) -> str:
    created = run("--config", str(config), "clients", "create", "--name", "Library",
                  "--redirect-uri", "https://lib.example.org/cb", "--json")
    assert created.exit_code == 0, created.output
    value: str = json.loads(created.output)["client_id"]
    return value


def stored(database_url: str, client_id: str) -> tuple[dict[str, frozenset[str]], list[audit.AuditEvent]]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        client = find_client(db, client_id)
        assert client is not None
        result = (policies_of(db, client.id),
                  audit.events(db, audit.AuditEventType.CLIENT_RELEASE_CHANGED))
    engine.dispose()
    return result


def test_set_show_and_clear(config: Path, database_url: str, client_id: str) -> None:
    cfg = ("--config", str(config))
    shown = run(*cfg, "clients", "release", "show", client_id)
    assert "consortium default:" in shown.output
    assert "every claim of the granted scopes" in shown.output

    assert run(*cfg, "clients", "release", "set", client_id, "--claims", "name, email,campus_id"
               ).exit_code == 0
    narrowed = run(*cfg, "clients", "release", "set", client_id, "--claims", "email", "--org", "tpu")
    assert narrowed.exit_code == 0 and "changed." in narrowed.output
    policies, events = stored(database_url, client_id)
    assert policies == {"": {"name", "email", "campus_id"}, "tpu": {"email"}}
    assert [(e.organization, e.details["after"]) for e in events] == [
        (None, ["campus_id", "email", "name"]), ("tpu", ["email"])]
    assert all(e.actor == "cli" and e.client_id == client_id for e in events)

    as_json = json.loads(run(*cfg, "clients", "release", "show", client_id, "--json").output)
    assert as_json["policy"] == [{"organization": None, "claims": ["name", "email", "campus_id"]},
                                 {"organization": "tpu", "claims": ["email"]}]

    same = run(*cfg, "clients", "release", "set", client_id, "--claims", "email", "--org", "tpu")
    assert "unchanged" in same.output
    assert len(stored(database_url, client_id)[1]) == 2  # no change, no audit event

    assert run(*cfg, "clients", "release", "clear", client_id, "--org", "tpu").exit_code == 0
    policies, events = stored(database_url, client_id)
    assert policies == {"": {"name", "email", "campus_id"}}
    assert events[-1].details == {"before": ["email"], "after": None}


def test_an_empty_list_releases_only_sub(config: Path, database_url: str, client_id: str) -> None:
    result = run("--config", str(config), "clients", "release", "set", client_id, "--claims", "")
    assert result.exit_code == 0, result.output
    assert stored(database_url, client_id)[0] == {"": frozenset()}
    shown = run("--config", str(config), "clients", "release", "show", client_id)
    assert "nothing but sub" in shown.output


def test_mistakes_are_listed_and_change_nothing(config: Path, database_url: str,
                                                client_id: str) -> None:
    result = run("--config", str(config), "clients", "release", "set", client_id,
                 "--claims", "name,password,sub", "--org", "mit")
    assert result.exit_code == 2
    assert "'password' is not a claim" in result.output
    assert "'sub' is always released" in result.output
    assert "'mit' is not a configured organization" in result.output
    assert stored(database_url, client_id) == ({}, [])


def test_an_unknown_client_is_named(config: Path) -> None:
    result = run("--config", str(config), "clients", "release", "show", "nope")
    assert result.exit_code == 2 and "No client 'nope'" in result.output


def test_a_service_client_has_no_release_policy(config: Path, database_url: str) -> None:
    created = run("--config", str(config), "clients", "create", "--name", "Sync", "--json",
                  "--grant-type", "client_credentials", "--scope", "schedule.read")
    service_id = json.loads(created.output)["client_id"]
    result = run("--config", str(config), "clients", "release", "set", service_id, "--claims", "name")
    assert result.exit_code == 2 and "logs nobody in" in result.output


def test_a_moodle_client_keeps_its_username_and_email(config: Path, database_url: str) -> None:
    created = run("--config", str(config), "clients", "create", "--name", "Moodle", "--json",
                  "--profile", "moodle", "--pkce", "optional",
                  "--redirect-uri", "https://moodle.tpu.example/admin/oauth2callback.php")
    assert created.exit_code == 0, created.output
    moodle_id = json.loads(created.output)["client_id"]
    refused = run("--config", str(config), "clients", "release", "set", moodle_id,
                  "--claims", "name,email", "--org", "tpu")
    assert refused.exit_code == 2 and "Moodle refuses a login without campus_id" in refused.output
    allowed = run("--config", str(config), "clients", "release", "set", moodle_id,
                  "--claims", "campus_id,email,given_name,family_name")
    assert allowed.exit_code == 0, allowed.output
    assert stored(database_url, moodle_id)[0] == {
        "": {"campus_id", "email", "given_name", "family_name"}}
