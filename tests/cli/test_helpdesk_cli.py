"""``idp clients create --role``: a helpdesk API client, its roles checked against the
configured organizations, nothing stored when one is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client
from tests.cli.test_cli import run


def stored_roles(database_url: str) -> list[list[str]]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        roles = [c.roles for c in db.scalars(select(Client))]
    engine.dispose()
    return roles


def test_a_helpdesk_client_gets_its_roles(config: Path, database_url: str) -> None:
    result = run("--config", str(config), "clients", "create", "--name", "TPU helpdesk",
                 "--grant-type", "client_credentials", "--role", "helpdesk:tpu",
                 "--role", "helpdesk", "--role", "helpdesk:tpu", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["client_secret"]
    assert stored_roles(database_url) == [["helpdesk:tpu", "helpdesk"]]


@pytest.mark.parametrize(("args", "expected"), [
    (["--grant-type", "client_credentials", "--role", "admin"], "unknown role"),
    (["--grant-type", "client_credentials", "--role", "helpdesk:tsu"],
     "'tsu' is not a configured organization"),
    (["--redirect-uri", "https://rp.example.org/cb", "--role", "helpdesk"],
     "only a client of the client_credentials grant has roles"),
])
def test_a_wrong_role_creates_nothing(config: Path, database_url: str, args: list[str],
                                      expected: str) -> None:
    result = run("--config", str(config), "clients", "create", "--name", "Bad", *args)
    assert result.exit_code == 2 and expected in result.output, result.output
    assert stored_roles(database_url) == []
