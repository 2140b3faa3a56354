"""`idp clients list` and `idp clients show`: every client not deleted, filtered by organization
as the client management API filters, shown in full but for its secret; an unknown client exits
3 and an unknown organization 2. `clients create --id-token-alg EdDSA` warns on stderr that many
relying parties cannot verify it."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client
from tests.cli.test_cli import run


def create(config: Path, name: str, *extra: str) -> tuple[str, str]:
    result = run("--config", str(config), "clients", "create", "--name", name,
                 "--redirect-uri", "https://lib.example.org/cb", "--json", *extra)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    return printed["client_id"], printed["client_secret"]


def change(database_url: str, client_id: str, **values: object) -> None:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        client = db.scalars(select(Client).where(Client.client_id == client_id)).one()
        for key, value in values.items():
            setattr(client, key, value)
        db.commit()
    engine.dispose()


def test_list_shows_every_client_and_org_keeps_those_of_the_organization(
        config: Path, database_url: str) -> None:
    library, library_secret = create(config, "Library")
    moodle, moodle_secret = create(config, "Moodle")
    change(database_url, moodle, organization="tpu", source="dcr")

    result = run("--config", str(config), "clients", "list", "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)["items"]
    assert [(i["client_id"], i["name"], i["organization"], i["source"]) for i in items] == [
        (library, "Library", None, "cli"), (moodle, "Moodle", "tpu", "dcr")]
    assert library_secret not in result.output and moodle_secret not in result.output
    assert "sha256:" not in result.output

    result = run("--config", str(config), "clients", "list", "--org", "tpu", "--json")
    assert result.exit_code == 0, result.output
    assert [i["client_id"] for i in json.loads(result.output)["items"]] == [moodle]

    table = run("--config", str(config), "clients", "list").output
    lines = table.splitlines()
    assert lines[0].split() == ["CLIENT_ID", "ORGANIZATION", "SOURCE", "STATE", "NAME"]
    assert lines[1].split() == [library, "-", "cli", "enabled", "Library"]
    assert lines[2].split() == [moodle, "tpu", "dcr", "enabled", "Moodle"]


def test_list_of_an_unknown_organization_exits_2(config: Path) -> None:
    result = run("--config", str(config), "clients", "list", "--org", "nowhere")
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_list_without_clients_says_so(config: Path) -> None:
    result = run("--config", str(config), "clients", "list")
    assert result.exit_code == 0 and result.output == "no clients\n"


def test_show_gives_the_whole_setup_but_no_secret(config: Path) -> None:
    client_id, secret = create(
        config, "Apache", "--id-token-alg", "ES256", "--pkce", "required",
        "--post-logout-redirect-uri", "https://lib.example.org/bye",
        "--backchannel-logout-uri", "https://lib.example.org/cb?logout=backchannel")
    result = run("--config", str(config), "clients", "show", client_id, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["client_id"] == client_id and shown["name"] == "Apache"
    assert shown["redirect_uris"] == ["https://lib.example.org/cb"]
    assert shown["id_token_signed_response_alg"] == "ES256"
    assert shown["pkce_required"] is True and shown["public"] is False
    assert shown["post_logout_redirect_uris"] == ["https://lib.example.org/bye"]
    assert shown["backchannel_logout_uri"] == "https://lib.example.org/cb?logout=backchannel"
    assert shown["disabled"] is False and shown["source"] == "cli"
    assert secret not in result.output and "sha256:" not in result.output
    assert not any("secret_hash" in key or "token_hash" in key for key in shown)

    text = run("--config", str(config), "clients", "show", client_id)
    assert text.exit_code == 0
    assert "post_logout_redirect_uris:" in text.output
    assert "https://lib.example.org/bye" in text.output
    assert secret not in text.output


def test_show_of_an_unknown_client_exits_3(config: Path) -> None:
    result = run("--config", str(config), "clients", "show", "no-such-client")
    assert result.exit_code == 3
    assert "no-such-client" in result.output


def test_an_eddsa_client_is_created_with_a_warning_on_stderr(config: Path) -> None:
    result = run("--config", str(config), "clients", "create", "--name", "Modern RP",
                 "--redirect-uri", "https://rp.example.org/cb", "--id-token-alg", "EdDSA",
                 "--json")
    assert result.exit_code == 0, result.output
    assert "cannot verify EdDSA" in result.stderr and "mod_auth_openidc" in result.stderr
    client_id = json.loads(result.stdout)["client_id"]  # stdout stays one line of JSON
    shown = run("--config", str(config), "clients", "show", client_id, "--json")
    assert json.loads(shown.stdout)["id_token_signed_response_alg"] == "EdDSA"

    quiet = run("--config", str(config), "clients", "create", "--name", "Classic RP",
                "--redirect-uri", "https://rp.example.org/cb", "--json")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_the_help_of_id_token_alg_says_eddsa_is_not_verified_everywhere() -> None:
    result = run("clients", "create", "--help")
    assert result.exit_code == 0
    assert "cannot verify EdDSA" in " ".join(result.output.split())
