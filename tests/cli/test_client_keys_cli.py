"""``idp clients create`` for private_key_jwt and pairwise clients: the keys from a JWK set
file or a jwks_uri, no secret for private_key_jwt, the sector of a pairwise client, and every
mistake listed with exit code 2 and nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client
from tests.cli.test_cli import CONFIG, run
from tests.support.client_keys import make_key, public_jwks

KEY = make_key("ES256", kid="cli-key")


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "idp.toml"
    path.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    return path


def create(config: Path, *args: str) -> tuple[int, str]:
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    result = run("--config", str(config), "clients", "create", "--name", "Library",
                 "--redirect-uri", "https://lib.example.org/cb", "--json", *args)
    return result.exit_code, result.output


def stored(database_url: str) -> list[Client]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        clients = list(db.scalars(select(Client)))
    engine.dispose()
    return clients


def count(database_url: str) -> int:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        found = int(db.scalar(select(func.count()).select_from(Client)) or 0)
    engine.dispose()
    return found


def test_a_private_key_jwt_client_from_a_jwks_file(config: Path, database_url: str,
                                                   tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(KEY)), encoding="utf-8")
    code, output = create(config, "--token-endpoint-auth-method", "private_key_jwt",
                          "--jwks-file", str(jwks), "--subject-type", "pairwise")
    assert code == 0, output
    assert json.loads(output)["client_secret"] is None
    [client] = stored(database_url)
    assert client.auth_method == "private_key_jwt" and client.secret_hash is None
    assert client.jwks == public_jwks(KEY) and client.jwks_uri is None
    assert client.subject_type == "pairwise" and client.sector_identifier == "lib.example.org"


def test_a_jwks_uri_client_with_a_secret_method(config: Path, database_url: str) -> None:
    code, output = create(config, "--token-endpoint-auth-method", "client_secret_post",
                          "--jwks-uri", "https://lib.example.org/jwks.json")
    assert code == 0, output
    assert json.loads(output)["client_secret"]
    [client] = stored(database_url)
    assert client.auth_method == "client_secret_post"
    assert client.jwks_uri == "https://lib.example.org/jwks.json"
    assert client.subject_type == "public" and client.sector_identifier is None


def test_mistakes_are_listed_and_nothing_is_stored(config: Path, database_url: str,
                                                   tmp_path: Path) -> None:
    not_json = tmp_path / "keys.txt"
    not_json.write_text("not json", encoding="utf-8")
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [KEY.as_dict(private=True)]}), encoding="utf-8")
    cases = [
        (("--token-endpoint-auth-method", "private_key_jwt"), "jwks: private_key_jwt needs"),
        (("--jwks-file", str(not_json)), "jwks_file: not JSON"),
        (("--jwks-file", str(private)), "public keys only"),
        (("--jwks-uri", "ftp://lib.example.org/k"), "jwks_uri: must be"),
        (("--public", "--token-endpoint-auth-method", "client_secret_basic", "--pkce", "required"),
         "a public client authenticates with none"),
        (("--subject-type", "pairwise", "--redirect-uri", "https://other.example.org/cb"),
         "sector_identifier_uri: is required"),
        (("--sector-identifier-uri", "https://lib.example.org/s.json"),
         "sector_identifier_uri: is only for a pairwise client"),
    ]
    for args, text in cases:
        code, output = create(config, *args)
        assert code == 2 and text in output, (args, output)
    assert count(database_url) == 0
