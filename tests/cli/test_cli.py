"""The ``idp`` command as an operator runs it: every configuration problem listed with its key
and a non-zero exit, migrations, client registration printing the secret once, and a server
that refuses a database behind the migrations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.engine import make_url

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


def test_service_client_with_grant_types_scopes_and_jwt_tokens(config: Path, database_url: str) -> None:
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    result = run("--config", str(config), "clients", "create", "--name", "Timetable sync",
                 "--grant-type", "client_credentials", "--scope", "schedule.read",
                 "--scope", "schedule.write", "--access-token-format", "jwt",
                 "--access-token-audience", "https://api.tpu.ru/schedule", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        client = db.scalars(select(Client).where(Client.client_id == printed["client_id"])).one()
        assert client.grant_types == ["client_credentials"] and client.redirect_uris == []
        assert client.scopes == ["schedule.read", "schedule.write"]
        assert client.service_scopes() == ["schedule.read", "schedule.write"]
        assert client.access_token_format == "jwt"
        assert client.access_token_audience == "https://api.tpu.ru/schedule"
        assert client.check_grant_type("client_credentials")
        assert not client.check_grant_type("authorization_code")
    engine.dispose()


def test_relying_party_with_refresh_tokens(config: Path, database_url: str) -> None:
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    result = run("--config", str(config), "clients", "create", "--name", "LMS",
                 "--redirect-uri", "https://lms.example.org/cb", "--grant-type", "authorization_code",
                 "--grant-type", "refresh_token", "--refresh-token-policy", "always", "--json")
    assert result.exit_code == 0, result.output
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        client = db.scalars(select(Client)).one()
        assert client.grant_types == ["authorization_code", "refresh_token"]
        assert client.refresh_token_policy == "always" and client.access_token_format == "opaque"
        assert client.get_allowed_scope("openid offline_access email") == "openid offline_access email"
    engine.dispose()


@pytest.mark.parametrize(("args", "expected"), [
    (["--public", "--redirect-uri", "http://127.0.0.1:5173/cb", "--grant-type", "authorization_code",
      "--grant-type", "client_credentials"], "client_credentials is for confidential clients only"),
    (["--grant-type", "refresh_token"], "refresh_token is only issued with authorization_code"),
    (["--grant-type", "client_credentials", "--redirect-uri", "https://svc.example.org/cb"],
     "only a client of the authorization_code grant has redirect URIs"),
    ([], "the authorization_code grant needs at least one redirect URI"),
    (["--grant-type", "client_credentials", "--scope", 'say "hi"'], "is not a scope token"),
    (["--grant-type", "client_credentials", "--access-token-audience", "api"], "absolute URI"),
    (["--redirect-uri", "https://lms.example.org/cb", "--refresh-token-policy", "always"],
     '"always" needs the refresh_token grant type'),
    (["--grant-type", "password"], "Invalid value for '--grant-type'"),
])
def test_clients_create_refuses_what_the_grants_do_not_allow(
        config: Path, database_url: str, args: list[str], expected: str) -> None:
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    result = run("--config", str(config), "clients", "create", "--name", "Bad", *args, "--json")
    assert result.exit_code == 2 and expected in result.output, result.output
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        assert db.scalars(select(Client)).all() == []
    engine.dispose()


@pytest.mark.postgres
def test_serve_on_a_missing_database_says_so_in_one_line(tmp_path: Path, postgres_server: str) -> None:
    """A second instance started on a database that is not there: one clear line, exit 2 (it
    was a 133-line traceback)."""
    missing = make_url(postgres_server).set(database="campus_id_no_such_database")
    path = tmp_path / "idp.toml"
    path.write_text(CONFIG.format(url=missing.render_as_string(hide_password=False)),
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(path), "serve", "--port", "1"])
    assert result.exit_code == 2, result.output
    [line] = result.output.splitlines()
    assert line.startswith("Cannot connect to the database (postgresql+psycopg://"), line
    assert "campus_id_no_such_database" in line and "Traceback" not in line
