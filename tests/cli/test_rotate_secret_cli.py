"""`idp clients rotate-secret`: a new secret printed once, the previous one accepted until the
overlap ends and refused after (time moved by editing the expiry, no sleeping); mistakes exit
2 and change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.storage import audit
from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client
from tests.cli.test_cli import run


def create(config: Path) -> tuple[str, str]:
    result = run("--config", str(config), "clients", "create", "--name", "Library",
                 "--redirect-uri", "https://lib.example.org/cb", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    return printed["client_id"], printed["client_secret"]


def stored(database_url: str, client_id: str, **change: object) -> Client:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        client = db.scalars(select(Client).where(Client.client_id == client_id)).one()
        for key, value in change.items():
            setattr(client, key, value)
        db.commit()
        db.expunge(client)
    engine.dispose()
    return client


def test_old_secret_works_inside_the_overlap_and_not_after(config: Path, database_url: str) -> None:
    client_id, old = create(config)
    result = run("--config", str(config), "clients", "rotate-secret", client_id,
                 "--overlap", "2d", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    new = printed["client_secret"]
    assert new != old
    client = stored(database_url, client_id)
    assert client.check_client_secret(new) and client.check_client_secret(old)
    expires = client.previous_secret_expires_at
    assert expires is not None
    assert abs((expires - (datetime.now(UTC) + timedelta(days=2))).total_seconds()) < 60
    # The window ends: the old secret stops, the new one goes on.
    client = stored(database_url, client_id,
                    previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert not client.check_client_secret(old) and client.check_client_secret(new)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        [event] = audit.events(db, audit.AuditEventType.CLIENT_SECRET_ROTATED)
        assert event.actor == "cli" and event.client_id == client_id
        assert new not in json.dumps(event.details) and old not in json.dumps(event.details)
    engine.dispose()


def test_default_overlap_comes_from_the_config_and_zero_stops_at_once(config: Path,
                                                                      database_url: str) -> None:
    client_id, first = create(config)
    result = run("--config", str(config), "clients", "rotate-secret", client_id)
    assert result.exit_code == 0 and "shown once" in result.output
    client = stored(database_url, client_id)
    assert client.previous_secret_expires_at is not None
    left = client.previous_secret_expires_at - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7)
    assert client.check_client_secret(first)
    result = run("--config", str(config), "clients", "rotate-secret", client_id, "--overlap", "0",
                 "--json")
    assert result.exit_code == 0, result.output
    client = stored(database_url, client_id)
    assert not client.check_client_secret(first)  # an earlier previous secret stops too
    assert client.check_client_secret(json.loads(result.output)["client_secret"])


@pytest.mark.parametrize(("args", "message"), [
    (["no-such-client"], "no client"),
    (["{cid}", "--overlap", "soon"], "overlap"),
])
def test_mistakes_exit_2_and_change_nothing(config: Path, database_url: str, args: list[str],
                                           message: str) -> None:
    client_id, _secret = create(config)
    before = stored(database_url, client_id).secret_hash
    result = run("--config", str(config), "clients", "rotate-secret",
                 *[a.format(cid=client_id) for a in args])
    assert result.exit_code == 2 and message in result.output
    assert stored(database_url, client_id).secret_hash == before


def test_a_public_client_has_no_secret_to_rotate(config: Path, database_url: str) -> None:
    result = run("--config", str(config), "clients", "create", "--name", "SPA", "--public",
                 "--redirect-uri", "https://spa.example.org/cb", "--json")
    client_id = json.loads(result.output)["client_id"]
    result = run("--config", str(config), "clients", "rotate-secret", client_id)
    assert result.exit_code == 2 and "public client" in result.output


def test_a_client_of_the_configuration_file_is_refused_and_audited(config: Path,
                                                                   database_url: str) -> None:
    client_id, _secret = create(config)
    before = stored(database_url, client_id, source="config").secret_hash  # as the file marks it
    result = run("--config", str(config), "clients", "rotate-secret", client_id)
    assert result.exit_code == 2 and "defined in the configuration file" in result.output
    assert stored(database_url, client_id).secret_hash == before
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        refused = audit.events(db, audit.AuditEventType.ADMIN_FORBIDDEN)
        rotated = audit.events(db, audit.AuditEventType.CLIENT_SECRET_ROTATED)
    engine.dispose()
    assert [(e.actor, e.client_id) for e in refused] == [("cli", client_id)]
    assert refused[0].details["reason"].startswith("rotate the secret:")
    assert not rotated
