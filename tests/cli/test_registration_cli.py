"""`idp registration-tokens create` and `idp clients create --profile`, as an operator runs
them: the token printed once and stored as a digest, every mistake a clear message with exit
code 2 and nothing stored."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from idp.storage import audit
from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client
from idp.storage.registration_tokens import InitialAccessToken
from tests.cli.test_cli import run


def stored_tokens(database_url: str) -> list[InitialAccessToken]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        tokens = list(db.scalars(select(InitialAccessToken)))
    engine.dispose()
    return tokens


def test_token_is_printed_once_and_stored_as_a_digest(config: Path, database_url: str) -> None:
    result = run("--config", str(config), "registration-tokens", "create", "--org", "tpu",
                 "--expires-in", "12h", "--max-uses", "3", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["organization"] == "tpu" and printed["max_uses"] == 3
    [token] = stored_tokens(database_url)
    assert token.token_hash == hashlib.sha256(printed["token"].encode()).hexdigest()
    assert token.organization == "tpu" and token.max_uses == 3 and token.uses == 0
    expected = datetime.now(UTC) + timedelta(hours=12)
    assert abs((token.expires_at - expected).total_seconds()) < 60
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        [event] = audit.events(db, audit.AuditEventType.REGISTRATION_TOKEN_CREATED)
        assert event.organization == "tpu" and event.actor == "cli"
        assert printed["token"] not in json.dumps(event.details)
    engine.dispose()


def test_text_output_says_the_token_is_shown_once(config: Path) -> None:
    result = run("--config", str(config), "registration-tokens", "create", "--org", "tpu")
    assert result.exit_code == 0, result.output
    assert "cid_iat_" in result.output and "shown once" in result.output
    assert "unlimited" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--org", "mit"], "unknown organization 'mit' (known: tpu)"),
    (["--org", "tpu", "--expires-in", "7 days"], "is not a duration"),
    (["--org", "tpu", "--expires-in", "0d"], "is not a duration"),
    (["--org", "tpu", "--expires-in", "400d"], "between 1 minute and 366 days"),
    (["--org", "tpu", "--max-uses", "0"], "max_uses: must be at least 1"),
])
def test_a_mistake_is_explained_and_nothing_is_stored(config: Path, database_url: str,
                                                      args: list[str], message: str) -> None:
    result = run("--config", str(config), "registration-tokens", "create", *args)
    assert result.exit_code == 2
    assert "The token was not created" in result.output and message in result.output
    assert stored_tokens(database_url) == []


def test_clients_create_with_the_moodle_profile(config: Path, database_url: str) -> None:
    result = run("--config", str(config), "clients", "create", "--name", "Moodle",
                 "--redirect-uri", "https://moodle.tpu.example/admin/oauth2callback.php",
                 "--profile", "moodle", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        client = db.scalars(select(Client).where(Client.client_id == created["client_id"])).one()
    engine.dispose()
    assert client.token_endpoint_auth_method == "client_secret_post"
    assert client.check_endpoint_auth_method("client_secret_post", "token")
    assert not client.check_endpoint_auth_method("client_secret_basic", "token")
    assert client.pkce_required is False and client.public is False
    assert client.scopes == ["openid", "profile", "email", "campus"]
    assert client.registered_metadata == {"campus_profile": "moodle"}


def test_moodle_profile_refuses_another_callback_and_a_public_client(
        config: Path, database_url: str) -> None:
    result = run("--config", str(config), "clients", "create", "--name", "Moodle", "--public",
                 "--redirect-uri", "https://moodle.tpu.example/login/callback",
                 "--profile", "moodle")
    assert result.exit_code == 2
    assert "/admin/oauth2callback.php" in result.output and "confidential" in result.output
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(Client)) == 0
    engine.dispose()
