"""Access follows the person through the running provider, with real slapd logins: a first
login grants what the policies give, which ``/api/v1/identities/{sub}/access`` explains,
My Campus ID shows under "What you can use" in English and Russian, and the ``entitlements``
claim carries; a helpdesk link adds the joined account's reasons and ends the absorbed
identity's grants; an unlink moves grants to the new identity and puts the rest in grace, each
change queued for delivery in the change's own transaction."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage.audit import AuditEventType
from idp.storage.identities import Identity
from idp.storage.provisioning import DeliveryJob
from tests.flows.conftest import RP1, make_settings
from tests.flows.test_account import events, link, open_account, password, rows
from tests.flows.test_helpdesk_api import HELPDESK, HELPDESK_TPU, call, helpdesk_clients, token_of
from tests.support.oidc_client import sign_in

LIBRARY_TERMS = "urn:mace:dir:entitlement:common-lib-terms"
GYM = "https://id.campus.test/entitlement/gym"


def access_tables(secret_file: Path) -> dict[str, Any]:
    return {
        "access": {
            "resources": {
                "library": {"name": "Unified library card", "name_ru": "Единый читательский билет",
                            "kind": "library", "provider": "tsu", "connectors": ["hook"],
                            "entitlement": LIBRARY_TERMS},
                "gym": {"name": "Sports centre", "name_ru": "Спортивный центр", "kind": "sports",
                        "connectors": ["hook"], "entitlement": GYM},
            },
            "policies": {
                "students": {"resources": ["library", "gym"], "affiliations": ["student"],
                             "grace_days": 30},
                "staff": {"resources": ["library"], "affiliations": ["staff"]},
            },
        },
        "connectors": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook",
                                "secret_file": str(secret_file)}},
    }


@pytest.fixture
def app(settings: Any, database_url: str, directories: dict[str, SlapdServer],
        tmp_path: Path) -> Iterator[Flask]:
    del settings  # migrated the database
    secret = tmp_path / "hook.secret"
    secret.write_text("whsec_" + base64.b64encode(b"k" * 32).decode(), encoding="utf-8")
    app = create_app(make_settings(database_url, directories, clients=helpdesk_clients(),
                                   **access_tables(secret)))
    yield app
    app.extensions["campus_id"].deliveries.wait_idle(10)
    app.extensions["campus_id"].engine.dispose()


def userinfo(app: Flask, org: str, username: str) -> dict[str, Any]:
    """A login at RP1 (scope campus): UserInfo's claims."""
    browser = app.test_client()
    result = sign_in(browser, RP1, username, password(org, username), organization=org)
    tokens = RP1.token(browser, result["code"]).json
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    return dict(info.json)


def access(api: FlaskClient, sub: str, client: tuple[str, str] = HELPDESK) -> dict[str, Any]:
    answer = call(api, "GET", f"/identities/{sub}/access", token_of(api, client))
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def states(body: dict[str, Any]) -> dict[str, tuple[str, list[dict[str, str]]]]:
    return {g["resource"]: (g["state"], g["because"]) for g in body["grants"]}


def jobs(app: Flask) -> list[tuple[str, str, str]]:
    """(kind, resource, campus_id) of every queued delivery, oldest first."""
    return [(j.kind, j.resource, j.campus_id)
            for j in sorted(rows(app, DeliveryJob), key=lambda j: j.id)]


def campus_id_of(app: Flask, sub: str) -> str:
    with app.extensions["campus_id"].sessions() as db:
        return db.scalars(select(Identity.campus_id).where(Identity.sub == sub)).one()


def test_a_students_login_grants_access_that_is_explained_shown_and_claimed(app: Flask) -> None:
    info = userinfo(app, "tpu", "dvasiliev")
    # The directory gives no entitlement; the grants give both resources' URIs.
    assert info["entitlements"] == sorted([LIBRARY_TERMS, GYM])
    api = app.test_client()
    body = access(api, info["sub"])
    assert body["person"] == {"campus_id": info["campus_id"], "sub": info["sub"]}
    assert states(body) == {
        "gym": ("active", [{"policy": "students", "account": "dvasiliev@tpu.ru"}]),
        "library": ("active", [{"policy": "students", "account": "dvasiliev@tpu.ru"}])}
    assert all(g["until"] is None for g in body["grants"])
    assert sorted(jobs(app)) == [("grant", "gym", info["campus_id"]),
                                 ("grant", "library", info["campus_id"])]

    browser = app.test_client()
    open_account(browser, "tpu", "dvasiliev")
    english = browser.get("/account?lang=en").get_data(as_text=True)
    assert "What you can use" in english
    assert "Unified library card" in english and "Provided by Tomsk State University" in english
    assert "Sports centre" in english and "Provided by the consortium" in english
    assert "policy “students” through dvasiliev@tpu.ru" in english
    assert "No end date" in english
    russian = browser.get("/account?lang=ru").get_data(as_text=True)
    assert "Чем вы можете пользоваться" in russian
    assert "Единый читательский билет" in russian
    assert "Предоставляет: Томский государственный университет" in russian
    assert "Спортивный центр" in russian and "Предоставляет: консорциум" in russian
    assert "правило «students» через dvasiliev@tpu.ru" in russian

    # A second login changes nothing: no new delivery, no new audit event.
    granted = len(rows(app, DeliveryJob))
    userinfo(app, "tpu", "dvasiliev")
    assert len(rows(app, DeliveryJob)) == granted


def test_nobody_with_nothing_sees_an_empty_section(app: Flask) -> None:
    browser = app.test_client()
    page = open_account(browser, "tsu", "kirill.sorokin").get_data(as_text=True)  # no affiliation
    assert "access.none" not in page
    english = browser.get("/account?lang=en").get_data(as_text=True)
    assert "What you can use" in english and "no access policy applies" in english
    assert "entitlements" not in userinfo(app, "tsu", "kirill.sorokin")


def test_link_adds_reasons_and_unlink_moves_grants_with_their_deliveries(app: Flask) -> None:
    staff = userinfo(app, "tsu", "ivan.petrov")  # faculty and staff: the library
    student = userinfo(app, "tpu", "dvasiliev")  # the library and the gym
    api = app.test_client()
    assert states(access(api, staff["sub"])) == {
        "library": ("active", [{"policy": "staff", "account": "ivan.petrov@tsu.ru"}])}
    before = len(rows(app, DeliveryJob))

    token = token_of(api, HELPDESK)
    linked = call(api, "POST", f"/identities/{staff['sub']}/accounts", token,
                  json={"account": "tpu:dvasiliev", "reason": "one person, ticket 12"})
    assert linked.status_code == 200, linked.json
    survivor = access(api, staff["sub"])
    assert states(survivor) == {
        "gym": ("active", [{"policy": "students", "account": "dvasiliev@tpu.ru"}]),
        "library": ("active", [{"policy": "staff", "account": "ivan.petrov@tsu.ru"},
                               {"policy": "students", "account": "dvasiliev@tpu.ru"}])}
    # The absorbed identity's grants end; the survivor's gym starts; the library, held all
    # along, is no news to the connector.
    absorbed_campus_id = student["campus_id"]
    assert jobs(app)[before:] == [("grant", "gym", staff["campus_id"]),
                                  ("revoke", "gym", absorbed_campus_id),
                                  ("revoke", "library", absorbed_campus_id)]
    assert access(api, student["sub"])["person"]["sub"] == staff["sub"]  # an alias now
    ended = events(app, AuditEventType.ACCESS_ENDED)
    assert sorted(e.details["resource"] for e in ended) == ["gym", "library"]
    assert {e.details["reason"] for e in ended} == {"one person, ticket 12"}
    # helpdesk:tpu reads the identity (it has a tpu account) but not the tsu account's name.
    scoped = states(access(api, staff["sub"], HELPDESK_TPU))
    assert scoped["library"][1] == [{"policy": "staff", "account": "tsu"},
                                    {"policy": "students", "account": "dvasiliev@tpu.ru"}]
    info = userinfo(app, "tsu", "ivan.petrov")
    assert info["entitlements"] == sorted([LIBRARY_TERMS, GYM])
    before = len(rows(app, DeliveryJob))

    unlinked = call(api, "DELETE", f"/identities/{staff['sub']}/accounts/tpu:dvasiliev", token,
                    json={"reason": "two people after all, ticket 13"})
    assert unlinked.status_code == 200, unlinked.json
    new_sub = unlinked.json["new_identity"]["sub"]
    new_campus_id = campus_id_of(app, new_sub)
    kept = access(api, staff["sub"])
    assert states(kept)["library"] == (
        "active", [{"policy": "staff", "account": "ivan.petrov@tsu.ru"}])
    gym = next(g for g in kept["grants"] if g["resource"] == "gym")
    assert gym["state"] == "grace" and gym["until"] is not None  # 30 days of grace
    assert states(access(api, new_sub)) == {
        "gym": ("active", [{"policy": "students", "account": "dvasiliev@tpu.ru"}]),
        "library": ("active", [{"policy": "students", "account": "dvasiliev@tpu.ru"}])}
    assert sorted(jobs(app)[before:]) == sorted([("grant", "gym", new_campus_id),
                                                 ("grant", "gym", staff["campus_id"]),
                                                 ("grant", "library", new_campus_id)])
    browser = app.test_client()
    open_account(browser, "tsu", "ivan.petrov")
    page = browser.get("/account?lang=en").get_data(as_text=True)
    assert f"Until {gym['until'][:10]}" in page


def test_the_access_endpoint_needs_a_helpdesk_token_and_a_known_sub(app: Flask) -> None:
    api = app.test_client()
    sub = userinfo(app, "tsu", "maxim.novikov")["sub"]  # a student of tsu
    assert call(api, "GET", f"/identities/{sub}/access", None).status_code == 401
    assert call(api, "GET", f"/identities/{sub}/access", "not-a-token").status_code == 401
    unknown = call(api, "GET", "/identities/no-such-sub/access", token_of(api, HELPDESK))
    assert unknown.status_code == 404 and unknown.json["error"] == "not_found"
    outside = call(api, "GET", f"/identities/{sub}/access", token_of(api, HELPDESK_TPU))
    assert outside.status_code == 403  # helpdesk:tpu, a person of tsu only
    assert states(access(api, sub))["library"][0] == "active"


def test_a_person_linking_on_my_campus_id_sees_the_joined_accounts_access(app: Flask) -> None:
    browser = app.test_client()
    page = open_account(browser, "tsu", "ivan.petrov").get_data(as_text=True)
    assert 'data-resource="library"' in page and 'data-resource="gym"' not in page
    # kovaleva.ei never logged in: the account is created on this identity.
    assert link(browser, "tusur", "kovaleva.ei",
                current=password("tsu", "ivan.petrov")).status_code == 303
    page = browser.get("/account?lang=en").get_data(as_text=True)
    assert 'data-resource="gym"' in page
    assert "policy “students” through kovaleva.ei@tusur.ru" in page
    assert "policy “staff” through ivan.petrov@tsu.ru" in page
