"""The ``idp`` command as an operator runs it: every configuration problem listed with its key
and a non-zero exit, migrations, client registration printing the secret once, and a server
that refuses a database behind the migrations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from idp.cli import main
from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client, hash_secret
from idp.storage.migrate import head_revision

CONFIG = """
[server]
issuer = "http://127.0.0.1:8080"
dev_mode = true
secret_key = "cli-tests-secret-key-0123456789abcdef"
[database]
url = "{url}"
[organizations.tpu]
name = "Tomsk Polytechnic University"
scope = "tpu.ru"
[organizations.tpu.directory]
uris = ["ldap://127.0.0.1:3891"]
allow_insecure = true
base_dn = "ou=people,dc=tpu,dc=ru"
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "idp.toml"
    path.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    return path


def test_check_config_lists_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(
        '[server]\nissuer = "ftp://id"\nworkers = "many"\n'
        '[organizations.tpu]\nscope = "tpu.ru"\n', encoding="utf-8")
    result = run("--config", str(path), "check-config")
    assert result.exit_code == 2
    for key in ("server.issuer", "server.workers", "server.secret_key", "organizations.tpu.name",
                "organizations.tpu.directory"):
        assert key in result.output, result.output
    assert "Configuration is valid" not in result.output


def test_check_config_without_a_file_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDP_CONFIG", raising=False)
    result = run("check-config")
    assert result.exit_code == 2 and "--config FILE" in result.output


def test_check_config_accepts_a_valid_file(config: Path) -> None:
    result = run("--config", str(config), "check-config")
    assert result.exit_code == 0, result.output
    assert "1 organization(s)" in result.output


def test_serve_refuses_a_database_behind_the_migrations(config: Path) -> None:
    result = run("--config", str(config), "serve", "--port", "1")
    assert result.exit_code == 2
    assert "idp db upgrade" in result.output and "empty database" in result.output


def test_clients_create_refuses_an_unmigrated_database(config: Path) -> None:
    result = run("--config", str(config), "clients", "create", "--name", "x",
                 "--redirect-uri", "https://rp.example.org/cb", "--json")
    assert result.exit_code == 2 and "idp db upgrade" in result.output


def test_upgrade_then_create_a_client_whose_secret_is_shown_once(config: Path, database_url: str) -> None:
    upgraded = run("--config", str(config), "db", "upgrade")
    assert upgraded.exit_code == 0 and str(head_revision()) in upgraded.output
    assert f"current: {head_revision()}" in run("--config", str(config), "db", "current").output

    result = run("--config", str(config), "clients", "create", "--name", "Научная библиотека",
                 "--redirect-uri", "https://lib.example.org/cb",
                 "--redirect-uri", "https://lib.example.org/cb2", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert set(printed) == {"client_id", "client_secret"} and len(printed["client_secret"]) >= 32

    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        client = db.scalars(select(Client).where(Client.client_id == printed["client_id"])).one()
        assert client.name == "Научная библиотека"
        assert client.redirect_uris == ["https://lib.example.org/cb", "https://lib.example.org/cb2"]
        assert client.secret_hash == hash_secret(printed["client_secret"])
        assert printed["client_secret"] not in repr(db.execute(select(Client.__table__)).all())
    engine.dispose()


def test_public_client_has_no_secret(config: Path) -> None:
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    result = run("--config", str(config), "clients", "create", "--name", "Timetable",
                 "--redirect-uri", "http://127.0.0.1:5173/cb", "--public", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["client_secret"] is None


@pytest.mark.parametrize("uri", ["rp.example.org/cb", "https://rp.example.org/cb#frag",
                                 "http://rp.example.org/cb"])
def test_clients_create_rejects_bad_redirect_uris_and_stores_nothing(
        config: Path, database_url: str, uri: str) -> None:
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    production = config.read_text().replace("dev_mode = true", "dev_mode = false")
    config.write_text(production.replace("http://127.0.0.1:8080", "https://id.example.org"))
    result = run("--config", str(config), "clients", "create", "--name", "Bad",
                 "--redirect-uri", uri, "--json")
    assert result.exit_code == 2 and "redirect" in result.output.lower(), result.output
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        assert db.scalars(select(Client)).all() == []
    engine.dispose()
