"""Pairwise subjects (OpenID Connect Core 8.1): a pairwise client sees a ``sub`` of its sector
only, the same in its ID token, UserInfo, introspection, JWT access tokens and logout tokens,
and accepted back in its id_token_hint; two clients of one sector see the same value, clients
of different sectors (and public clients) different ones."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp.storage.logout import LogoutDelivery
from tests.flows.conftest import RP1
from tests.support.client_keys import JsonServer, json_server
from tests.support.oidc_client import RelyingParty, is_login_form, sign_in
from tests.support.registration import initial_token, register, valid_metadata

USER, PASSWORD = "asmirnova@tpu.ru", "Passw0rd-asmirnova"


def claims_of(jwt_value: str) -> dict[str, Any]:
    payload = jwt_value.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def pairwise_client(app: Flask, browser: FlaskClient, redirect_uri: str,
                    **metadata: Any) -> RelyingParty:
    response = register(browser, initial_token(app), valid_metadata(
        redirect_uris=[redirect_uri], subject_type="pairwise", **metadata))
    assert response.status_code == 201, response.json
    assert response.json["subject_type"] == "pairwise"
    return RelyingParty(response.json["client_id"], redirect_uri,
                        secret=response.json["client_secret"], scope="openid profile")


def subjects(browser: FlaskClient, rp: RelyingParty) -> dict[str, str]:
    """What one client is told the person's sub is, everywhere it is told."""
    code = sign_in(browser, rp, USER, PASSWORD)["code"]
    tokens = rp.token(browser, code).json
    userinfo = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    introspected = browser.post("/introspect", data={"token": tokens["access_token"]},
                                auth=(rp.client_id, rp.secret))
    return {"id_token": claims_of(tokens["id_token"])["sub"], "userinfo": userinfo.json["sub"],
            "introspection": introspected.json["sub"], "hint": tokens["id_token"]}


def test_pairwise_subjects_by_sector(app: Flask, browser: FlaskClient) -> None:
    library = pairwise_client(app, browser, "https://library.tpu.example/callback")
    catalogue = pairwise_client(app, browser, "https://library.tpu.example/catalogue/cb")
    sports = pairwise_client(app, browser, "https://sports.tsu.example/cb")
    seen = {rp.client_id: subjects(browser, rp) for rp in (library, catalogue, sports, RP1)}
    for found in seen.values():  # every channel of one client agrees
        assert found["id_token"] == found["userinfo"] == found["introspection"]
    public = seen[RP1.client_id]["id_token"]
    assert seen[library.client_id]["id_token"] == seen[catalogue.client_id]["id_token"]
    assert len({seen[library.client_id]["id_token"], seen[sports.client_id]["id_token"], public}) == 3


def test_jwt_access_tokens_carry_the_pairwise_subject(app: Flask, browser: FlaskClient) -> None:
    rp = pairwise_client(app, browser, "https://library.tpu.example/callback")
    with app.extensions["campus_id"].sessions() as db:
        from idp.storage.clients import find_client

        client = find_client(db, rp.client_id)
        assert client is not None
        client.access_token_format = "jwt"
        db.commit()
    code = sign_in(browser, rp, USER, PASSWORD)["code"]
    tokens = rp.token(browser, code).json
    assert claims_of(tokens["access_token"])["sub"] == claims_of(tokens["id_token"])["sub"]


@pytest.fixture
def sector_server() -> Iterator[JsonServer]:
    with json_server() as server:
        yield server


def test_a_sector_identifier_uri_joins_hosts_into_one_sector(
        app: Flask, browser: FlaskClient, sector_server: JsonServer) -> None:
    uris = ["https://portal.tpu.example/cb", "https://m.tpu.example/cb"]
    sector_uri = sector_server.serve("/sector.json", uris)
    both = pairwise_client(app, browser, uris[0], sector_identifier_uri=sector_uri)
    assert sector_server.hits["/sector.json"] == 1
    response = register(browser, initial_token(app), valid_metadata(
        redirect_uris=[*uris, "https://other.example/cb"], subject_type="pairwise",
        sector_identifier_uri=sector_uri))
    assert response.status_code == 400
    assert "does not list every redirect URI" in response.json["error_description"]
    missing = register(browser, initial_token(app), valid_metadata(
        redirect_uris=uris, subject_type="pairwise",
        sector_identifier_uri=sector_server.url("/nothing.json")))
    assert missing.status_code == 400 and "sector_identifier_uri" in missing.json["error_description"]
    assert subjects(browser, both)["id_token"] != subjects(browser, RP1)["id_token"]


def test_logout_with_a_pairwise_hint_and_its_logout_token(app: Flask, browser: FlaskClient) -> None:
    rp = pairwise_client(app, browser, "https://library.tpu.example/callback",
                         backchannel_logout_uri="https://library.tpu.example/backchannel")
    found = subjects(browser, rp)
    response = browser.get("/logout", query_string={"id_token_hint": found["hint"]})
    assert response.status_code == 200
    again = browser.get("/authorize", query_string=rp.params())
    assert is_login_form(again)  # the hint's session has ended
    with app.extensions["campus_id"].sessions() as db:
        [delivery] = db.query(LogoutDelivery).all()
        assert claims_of(delivery.token)["sub"] == found["id_token"]


def test_a_registration_read_back_and_sent_again_keeps_keys_and_subjects(
        app: Flask, browser: FlaskClient) -> None:
    """RFC 7592: what GET returns is a valid PUT that changes nothing (the admin UI resends
    the registered metadata the same way)."""
    from tests.support.client_keys import make_key, public_jwks
    from tests.support.registration import manage

    jwks = public_jwks(make_key(kid="k"))
    created = register(browser, initial_token(app), valid_metadata(
        subject_type="pairwise", jwks=jwks, request_object_signing_alg="ES256",
        require_pushed_authorization_requests=True)).json
    uri, token = created["registration_client_uri"], created["registration_access_token"]
    read = manage(browser, "GET", uri, token).json
    assert manage(browser, "PUT", uri, token, read).status_code == 200
    again = manage(browser, "GET", uri, token).json
    for name in ("subject_type", "jwks", "request_object_signing_alg",
                 "require_pushed_authorization_requests"):
        assert again[name] == created[name], name
    assert again["subject_type"] == "pairwise" and again["jwks"] == jwks


def test_an_edit_that_resends_the_registered_metadata_keeps_keys_and_subjects(
        app: Flask, browser: FlaskClient) -> None:
    """How the admin UI edits a client: the form's fields over the registered metadata."""
    from idp.oidc.client_metadata import parse_client_metadata
    from idp.storage.clients import find_client
    from tests.support.client_keys import make_key, public_jwks

    created = register(browser, initial_token(app), valid_metadata(
        subject_type="pairwise", token_endpoint_auth_method="private_key_jwt",
        jwks=public_jwks(make_key(kid="k")), require_pushed_authorization_requests=True)).json
    with app.extensions["campus_id"].sessions() as db:
        client = find_client(db, created["client_id"])
        assert client is not None
        edited = parse_client_metadata({**client.registered_metadata, "client_name": "Renamed",
                                        "redirect_uris": client.redirect_uris,
                                        "token_endpoint_auth_method": "private_key_jwt"},
                                       dev_mode=True)
    assert edited.keys.subject_type == "pairwise" and edited.keys.jwks == created["jwks"]
    assert edited.keys.require_pushed_authorization_requests is True
    assert edited.sector_identifier == "library.tpu.example"
