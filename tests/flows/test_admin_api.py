"""The client management API (/api/v1/clients): an org_admin:ORG client sees and changes only
ORG's clients (403, audited, on another's, nothing changed); consortium_admin everything; the
registration management endpoint (RFC 7592) accepts only the client's own registration access
token, so an admin of another organization gets nowhere there either."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import Client
from tests.flows.conftest import client_table, make_settings
from tests.support.registration import initial_token
from tests.support.tokens import client_credentials

TSU_ADMIN = ("tsu-admin-api", "tsu-admin-api-secret-0123456789")
TPU_ADMIN = ("tpu-admin-api", "tpu-admin-api-secret-0123456789")
BOSS = ("consortium-api", "consortium-api-secret-0123456789")
HELPDESK = ("helpdesk-api", "helpdesk-api-secret-0123456789")


def service(secret: str, roles: list[str]) -> dict[str, Any]:
    return {"name": "Automation", "client_secret": secret, "grant_types": ["client_credentials"],
            "scopes": [], "roles": roles}


@pytest.fixture
def app(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    clients = {**client_table(), TSU_ADMIN[0]: service(TSU_ADMIN[1], ["org_admin:tsu"]),
               TPU_ADMIN[0]: service(TPU_ADMIN[1], ["org_admin:tpu"]),
               BOSS[0]: service(BOSS[1], ["consortium_admin"]),
               HELPDESK[0]: service(HELPDESK[1], ["helpdesk"])}
    app = create_app(make_settings(migrated_database_url, directories, clients=clients))
    yield app
    app.extensions["campus_id"].engine.dispose()


def token_of(api: FlaskClient, client: tuple[str, str]) -> str:
    response = client_credentials(api, client)
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def call(api: FlaskClient, method: str, path: str, token: str | None, **kwargs: Any) -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return api.open(f"/api/v1/clients{path}", method=method, headers=headers, **kwargs)


def register(app: Flask, api: FlaskClient, org: str) -> dict[str, Any]:
    """A client of ``org`` registered through RFC 7591."""
    token = initial_token(app, org)
    response = api.post("/register", json={"client_name": f"App of {org}",
                                           "redirect_uris": [f"https://app.{org}.example.org/cb"]},
                        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json
    return dict(response.json)


def stored(app: Flask, client_id: str) -> Client:
    with app.extensions["campus_id"].sessions() as db:
        client = db.query(Client).filter_by(client_id=client_id).one()
        db.expunge(client)
        return client


def test_org_admin_gets_403_on_another_organizations_client(app: Flask) -> None:
    api = app.test_client()
    tsu_client = register(app, api, "tsu")["client_id"]
    tpu = token_of(api, TPU_ADMIN)
    assert call(api, "GET", f"/{tsu_client}", tpu).status_code == 403
    response = call(api, "PATCH", f"/{tsu_client}", tpu, json={"disabled": True})
    assert response.status_code == 403 and response.json["error"] == "forbidden"
    assert call(api, "DELETE", f"/{tsu_client}", tpu).status_code == 403
    assert call(api, "GET", "?organization=tsu", tpu).status_code == 403
    assert tsu_client not in str(call(api, "GET", "", tpu).json)
    client = stored(app, tsu_client)
    assert client.disabled_at is None and client.deleted_at is None
    with app.extensions["campus_id"].sessions() as db:
        refused = audit.events(db, AuditEventType.ADMIN_FORBIDDEN)
    assert len(refused) == 4 and {e.actor for e in refused} == {f"client:{TPU_ADMIN[0]}"}


def test_org_admin_manages_its_own_organizations_clients(app: Flask) -> None:
    api = app.test_client()
    tsu_client = register(app, api, "tsu")["client_id"]
    tsu = token_of(api, TSU_ADMIN)
    listed = call(api, "GET", "", tsu).json["items"]
    assert [c["client_id"] for c in listed] == [tsu_client]
    assert not {"client_secret", "secret_hash"} & set(listed[0])
    response = call(api, "PATCH", f"/{tsu_client}", tsu, json={"disabled": True})
    assert response.status_code == 200 and response.json["disabled"] is True
    assert stored(app, tsu_client).disabled_at is not None
    bad = call(api, "PATCH", f"/{tsu_client}", tsu, json={"disabled": "yes"})
    assert bad.status_code == 422
    assert call(api, "DELETE", f"/{tsu_client}", tsu).status_code == 204
    assert stored(app, tsu_client).deleted_at is not None
    assert call(api, "GET", f"/{tsu_client}", tsu).status_code == 404
    with app.extensions["campus_id"].sessions() as db:
        [deleted] = audit.events(db, AuditEventType.CLIENT_DELETED)
    assert deleted.actor == f"client:{TSU_ADMIN[0]}"


def test_consortium_admin_sees_all_and_static_clients_are_not_its_to_change(app: Flask) -> None:
    api = app.test_client()
    tsu_client = register(app, api, "tsu")["client_id"]
    boss = token_of(api, BOSS)
    ids = {c["client_id"] for c in call(api, "GET", "", boss).json["items"]}
    assert {tsu_client, "rp1", "campus-admin"} <= ids
    assert call(api, "GET", f"/{tsu_client}", boss).status_code == 200
    assert call(api, "DELETE", "/rp1", boss).status_code == 409  # defined in the config file


def test_a_client_of_the_configuration_file_is_not_disabled_or_deleted_here(app: Flask) -> None:
    """409 with the reason, nothing changed (no token revoked either), each refusal audited."""
    api = app.test_client()
    boss = token_of(api, BOSS)
    for method, body in (("PATCH", {"disabled": True}), ("DELETE", None)):
        response = call(api, method, "/rp1", boss, json=body)
        assert response.status_code == 409, method
        assert response.json == {"error": "conflict", "message": "This client is defined in the "
                                 "configuration file; change it there."}
    # The caller's own client comes from the file too: it cannot switch itself off either.
    assert call(api, "PATCH", f"/{BOSS[0]}", boss, json={"disabled": True}).status_code == 409
    for client_id in ("rp1", BOSS[0]):
        client = stored(app, client_id)
        assert client.disabled_at is None and client.deleted_at is None
        assert client.tokens_revoked_before is None
    assert call(api, "GET", "/rp1", boss).json["disabled"] is False
    with app.extensions["campus_id"].sessions() as db:
        refused = audit.events(db, AuditEventType.ADMIN_FORBIDDEN)
        changed = [e for kind in (AuditEventType.CLIENT_DISABLED, AuditEventType.CLIENT_DELETED)
                   for e in audit.events(db, kind)]
    assert [(e.client_id, e.details["reason"].split(":")[0]) for e in refused] == [
        ("rp1", "disable"), ("rp1", "delete"), (BOSS[0], "disable")]
    assert {e.actor for e in refused} == {f"client:{BOSS[0]}"}
    assert not changed


def test_a_client_of_the_configuration_file_disabled_earlier_can_be_enabled(app: Flask) -> None:
    """Enabling brings it back in step with the file, which lists it as in use."""
    api = app.test_client()
    boss = token_of(api, BOSS)
    with app.extensions["campus_id"].sessions() as db:
        db.query(Client).filter_by(client_id="rp1").update({"disabled_at": datetime.now(UTC)})
        db.commit()
    response = call(api, "PATCH", "/rp1", boss, json={"disabled": False})
    assert response.status_code == 200 and response.json["disabled"] is False
    assert stored(app, "rp1").disabled_at is None


def test_a_client_removed_from_the_configuration_file_is_disabled_at_start(
        app: Flask, database_url: str, directories: dict[str, SlapdServer]) -> None:
    """Removing it from the file is how such a client is switched off: the next start
    disables it and revokes its tokens; the clients still listed are untouched."""
    api = app.test_client()
    token = token_of(api, HELPDESK)
    table = {**client_table(), TSU_ADMIN[0]: service(TSU_ADMIN[1], ["org_admin:tsu"])}
    restarted = create_app(make_settings(database_url, directories, clients=table))
    try:
        again = restarted.test_client()
        assert client_credentials(again, HELPDESK).status_code == 401
        assert again.get("/api/v1/identities", headers={"Authorization": f"Bearer {token}"}
                         ).status_code == 401
        assert stored(restarted, HELPDESK[0]).disabled_at is not None
        assert stored(restarted, TSU_ADMIN[0]).disabled_at is None
        assert stored(restarted, "rp1").disabled_at is None
        with restarted.extensions["campus_id"].sessions() as db:
            disabled = audit.events(db, AuditEventType.CLIENT_DISABLED)
        assert {(e.client_id, e.actor) for e in disabled} == {
            (HELPDESK[0], "config"), (TPU_ADMIN[0], "config"), (BOSS[0], "config")}
        assert disabled[0].details["reason"] == "removed from the configuration file"
    finally:
        restarted.extensions["campus_id"].engine.dispose()


def test_tokens_without_an_admin_role_are_refused(app: Flask) -> None:
    api = app.test_client()
    assert call(api, "GET", "", None).status_code == 401
    assert call(api, "GET", "", "not-a-token").status_code == 401
    assert call(api, "GET", "", token_of(api, HELPDESK)).status_code == 403


def test_registration_management_needs_the_clients_own_token(app: Flask) -> None:
    """RFC 7592: another organization's admin has no registration access token for the
    client, and its API token does not stand in for one."""
    api = app.test_client()
    registered = register(app, api, "tsu")
    path = f"/register/{registered['client_id']}"
    tpu = token_of(api, TPU_ADMIN)
    assert api.get(path, headers={"Authorization": f"Bearer {tpu}"}).status_code == 401
    assert api.delete(path, headers={"Authorization": f"Bearer {tpu}"}).status_code == 401
    own = {"Authorization": f"Bearer {registered['registration_access_token']}"}
    assert api.get(path, headers=own).status_code == 200
