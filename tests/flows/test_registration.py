"""Dynamic client registration (RFC 7591) and management (RFC 7592) over HTTP: who may
register, what the client gets back, read/update/delete with the registration access token,
and a registered client that then completes a login."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from idp.storage import audit
from idp.storage.base import utcnow
from idp.storage.clients import find_client
from idp.storage.registration_tokens import InitialAccessToken
from tests.flows.conftest import RP1
from tests.support.oidc_client import RelyingParty, sign_in
from tests.support.registration import (
    initial_token,
    manage,
    register,
    registered_clients,
    valid_metadata,
)

ISSUER = "https://id.campus.test"


def assert_unauthorized(response: object, error: bool = True) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)  # type: ignore[attr-defined]
    challenge = response.headers["WWW-Authenticate"]  # type: ignore[attr-defined]
    assert challenge.startswith('Bearer realm="campus-id"')
    assert ('error="invalid_token"' in challenge) is error


def test_discovery_advertises_the_registration_endpoint(browser: FlaskClient) -> None:
    meta = browser.get("/.well-known/openid-configuration").json
    assert meta["registration_endpoint"] == f"{ISSUER}/register"


def test_registration_returns_credentials_once_and_the_registered_metadata(
        app: Flask, browser: FlaskClient) -> None:
    token = initial_token(app, "tsu")
    before = int(time.time())
    response = register(browser, token, valid_metadata(
        **{"client_name#ru": "Научная библиотека", "client_name#en": "Research library",
           "logo_uri": "https://library.tpu.example/logo.png",
           "policy_uri": "https://library.tpu.example/privacy",
           "tos_uri": "https://library.tpu.example/terms",
           "client_uri": "https://library.tpu.example/",
           "contacts": ["it@library.tpu.example"], "software_id": "lib-portal",
           "software_version": "2.1", "frobnicate": True}))
    assert response.status_code == 201, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["client_id"] and len(body["client_secret"]) >= 32
    assert body["client_secret_expires_at"] == 0
    assert before - 1 <= body["client_id_issued_at"] <= time.time() + 1
    assert body["registration_access_token"]
    assert body["registration_client_uri"] == f"{ISSUER}/register/{body['client_id']}"
    assert body["redirect_uris"] == ["https://library.tpu.example/callback"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["grant_types"] == ["authorization_code"] and body["response_types"] == ["code"]
    assert body["scope"] == "openid profile email campus"
    assert body["id_token_signed_response_alg"] == "RS256"
    assert body["client_name#ru"] == "Научная библиотека"
    assert body["logo_uri"] == "https://library.tpu.example/logo.png"
    assert body["contacts"] == ["it@library.tpu.example"] and body["software_id"] == "lib-portal"
    assert "frobnicate" not in body  # unknown metadata is ignored (RFC 7591 2)
    assert body["campus_organization"] == "tsu"

    with app.extensions["campus_id"].sessions() as db:
        client = find_client(db, body["client_id"])
        assert client is not None and client.organization == "tsu" and client.source == "dcr"
        for secret in (body["client_secret"], body["registration_access_token"]):
            assert secret not in repr(client.__dict__), "a secret is stored in clear"
        assert client.check_client_secret(body["client_secret"])
        [created] = [e for e in audit.events(db) if e.client_id == body["client_id"]]
        [used] = [e for e in audit.events(db) if e.type == "registration_token.used"]
    assert created.type == "client.created" and created.organization == "tsu"
    assert used.organization == "tsu" and used.details["token_id"] == created.details["token_id"]


def test_public_client_gets_no_secret_and_must_use_pkce(app: Flask, browser: FlaskClient) -> None:
    response = register(browser, initial_token(app), valid_metadata(
        token_endpoint_auth_method="none", redirect_uris=["http://127.0.0.1:8400/cb"]))
    assert response.status_code == 201, response.json
    body = response.json
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    rp = RelyingParty(body["client_id"], "http://127.0.0.1:8400/cb")
    no_pkce = browser.get("/authorize", query_string=rp.params(code_challenge=None,
                                                             code_challenge_method=None))
    assert no_pkce.status_code == 302
    assert "error=invalid_request" in no_pkce.headers["Location"]


@pytest.mark.parametrize("case", ["missing", "unknown", "expired", "used_up", "revoked",
                                  "basic_scheme", "organization_gone"])
def test_registration_without_a_valid_initial_access_token_is_refused(
        app: Flask, browser: FlaskClient, case: str) -> None:
    token: str | None = initial_token(app, max_uses=1 if case == "used_up" else None)
    if case == "missing":
        token = None
    elif case == "unknown":
        token = "cid_iat_" + "x" * 43
    elif case in ("expired", "revoked"):
        column = "expires_at" if case == "expired" else "revoked_at"
        with app.extensions["campus_id"].sessions() as db:
            db.execute(update(InitialAccessToken).values(
                {column: utcnow() - timedelta(seconds=1)}))
            db.commit()
    elif case == "used_up":
        assert register(browser, token, valid_metadata()).status_code == 201
    elif case == "organization_gone":  # removed from the configuration after the token was made
        with app.extensions["campus_id"].sessions() as db:
            db.execute(update(InitialAccessToken).values(organization="closed"))
            db.commit()
    created = registered_clients(app)
    if case == "basic_scheme":
        response = browser.post("/register", json=valid_metadata(),
                                headers={"Authorization": f"Basic {token}"})
    else:
        response = register(browser, token, valid_metadata())
    assert_unauthorized(response, error=case not in ("missing", "basic_scheme"))
    assert registered_clients(app) == created
    if case in ("expired", "used_up", "revoked"):
        assert case.replace("_", " ") in response.json["error_description"]
    if case == "organization_gone":
        assert "no longer configured" in response.json["error_description"]


def test_a_failed_registration_spends_the_token_and_is_audited(app: Flask,
                                                               browser: FlaskClient) -> None:
    """Every attempt that passed authentication spends a use, valid or not: a single-use token
    cannot be tried again and again (each try may fetch a sector_identifier_uri)."""
    token = initial_token(app, max_uses=1)
    bad = register(browser, token, valid_metadata(redirect_uris=["https://x.example/#frag"]))
    assert bad.status_code == 400 and bad.json["error"] == "invalid_redirect_uri"
    again = register(browser, token, valid_metadata())
    assert_unauthorized(again)
    assert "used up" in again.json["error_description"]
    assert registered_clients(app) == 0
    with app.extensions["campus_id"].sessions() as db:
        events = [e for e in audit.events(db) if e.type.startswith("registration")]
    by_type = {e.type: e for e in events}
    assert set(by_type) == {"registration_token.created", "registration_token.used",
                            "registration.failed", "registration.refused"}
    failed = by_type["registration.failed"]
    assert failed.organization == "tpu" and failed.details["error"] == "invalid_redirect_uri"
    assert failed.details["token_id"] == by_type["registration_token.used"].details["token_id"]
    assert token not in str(failed.details)


def test_rfc7592_read_update_and_delete(app: Flask, browser: FlaskClient) -> None:
    created = register(browser, initial_token(app), valid_metadata()).json
    uri, token = created["registration_client_uri"], created["registration_access_token"]

    read = manage(browser, "GET", uri, token)
    assert read.status_code == 200
    assert read.json["client_id"] == created["client_id"]
    assert read.json["redirect_uris"] == created["redirect_uris"]
    assert "client_secret" not in read.json  # stored hashed: shown once only

    changed = valid_metadata(client_id=created["client_id"], client_name="Library portal 2",
                             redirect_uris=["https://library.tpu.example/cb2"],
                             token_endpoint_auth_method="client_secret_post")
    updated = manage(browser, "PUT", uri, token, changed)
    assert updated.status_code == 200, updated.json
    assert updated.json["client_name"] == "Library portal 2"
    assert updated.json["redirect_uris"] == ["https://library.tpu.example/cb2"]
    assert updated.json["token_endpoint_auth_method"] == "client_secret_post"
    assert "client_secret" not in updated.json  # the secret stays the same
    assert manage(browser, "GET", uri, token).json["client_name"] == "Library portal 2"

    invalid = manage(browser, "PUT", uri, token, {**changed, "logo_uri": "http://x.example/l.png"})
    assert invalid.status_code == 400 and invalid.json["error"] == "invalid_client_metadata"
    assert "logo_uri" in invalid.json["error_description"]
    wrong_id = manage(browser, "PUT", uri, token, {**changed, "client_id": "someone-else"})
    assert wrong_id.status_code == 400 and "client_id" in wrong_id.json["error_description"]
    wrong_secret = manage(browser, "PUT", uri, token, {**changed, "client_secret": "guess"})
    assert wrong_secret.status_code == 400
    assert "client_secret" in wrong_secret.json["error_description"]

    deleted = manage(browser, "DELETE", uri, token)
    assert deleted.status_code == 204
    assert_unauthorized(manage(browser, "GET", uri, token))
    with app.extensions["campus_id"].sessions() as db:
        assert find_client(db, created["client_id"]) is None
        types = [e.type for e in audit.events(db) if e.client_id == created["client_id"]]
    assert "client.updated" in types and "client.deleted" in types


def test_public_client_updated_to_confidential_gets_its_secret_then(
        app: Flask, browser: FlaskClient) -> None:
    created = register(browser, initial_token(app), valid_metadata(
        token_endpoint_auth_method="none")).json
    updated = manage(browser, "PUT", created["registration_client_uri"],
                     created["registration_access_token"],
                     valid_metadata(client_id=created["client_id"]))
    assert updated.status_code == 200 and len(updated.json["client_secret"]) >= 32


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_management_needs_this_clients_registration_access_token(
        app: Flask, browser: FlaskClient, method: str) -> None:
    token = initial_token(app)
    first = register(browser, token, valid_metadata()).json
    second = register(browser, token, valid_metadata()).json
    metadata = valid_metadata(client_id=first["client_id"])
    uri = first["registration_client_uri"]
    for presented in ("cid_rat_wrong", second["registration_access_token"], token):
        assert_unauthorized(manage(browser, method, uri, presented, metadata))
    no_token = browser.open(uri.removeprefix(ISSUER), method=method, json=metadata)
    assert_unauthorized(no_token, error=False)
    assert_unauthorized(manage(browser, method, f"{ISSUER}/register/unknown-client",
                               first["registration_access_token"], metadata))
    assert manage(browser, "GET", uri, first["registration_access_token"]).status_code == 200


def test_registered_client_logs_in_and_its_tokens_stop_working_once_deleted(
        app: Flask, browser: FlaskClient) -> None:
    created = register(browser, initial_token(app, "tpu"), valid_metadata(
        grant_types=["authorization_code", "refresh_token"],
        scope="openid profile email campus offline_access",
        **{"client_name#ru": "Портал библиотеки", "client_name#en": "Library portal (en)"})).json
    rp = RelyingParty(created["client_id"], created["redirect_uris"][0],
                      secret=created["client_secret"],
                      scope="openid profile email campus offline_access")

    result = sign_in(browser, rp, "asmirnova@tpu.ru", "Passw0rd-asmirnova")
    tokens = rp.token(browser, result["code"])
    assert tokens.status_code == 200, tokens.json
    access, refresh = tokens.json["access_token"], tokens.json["refresh_token"]
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert info.status_code == 200 and info.json["email"] == "asmirnova@tpu.ru"

    assert manage(browser, "DELETE", created["registration_client_uri"],
                  created["registration_access_token"]).status_code == 204
    assert browser.get("/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 401
    refreshed = browser.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh},
                             auth=(rp.client_id, rp.secret))
    assert refreshed.status_code == 401 and refreshed.json["error"] == "invalid_client"
    again = browser.get("/authorize", query_string=rp.params())
    assert again.status_code == 400  # unknown client: an error page, never a redirect


def test_consent_page_names_the_client_in_the_page_language(app: Flask, browser: FlaskClient) -> None:
    created = register(browser, initial_token(app), valid_metadata(
        **{"client_name#ru": "Портал библиотеки", "client_name#en": "Library portal (en)"})).json
    rp = RelyingParty(created["client_id"], created["redirect_uris"][0],
                      secret=created["client_secret"])
    login_page = browser.get("/authorize", query_string=rp.params(), follow_redirects=True,
                             headers={"Accept-Language": "en"})
    assert "Library portal (en)" in login_page.get_data(as_text=True)
    sign_in(browser, RP1, "asmirnova@tpu.ru", "Passw0rd-asmirnova")  # a session, then consent
    pages = {}
    for language in ("ru", "en", "de"):
        response = browser.get("/authorize", query_string=rp.params(),
                               headers={"Accept-Language": language})
        assert response.status_code == 200, response.headers
        pages[language] = response.get_data(as_text=True)
    assert "Портал библиотеки" in pages["ru"] and "Library portal (en)" not in pages["ru"]
    assert "Library portal (en)" in pages["en"] and "Портал библиотеки" not in pages["en"]
    assert "Портал библиотеки" in pages["de"]  # Russian is the default language


def test_each_client_belongs_to_the_organization_of_its_initial_access_token(
        app: Flask, browser: FlaskClient) -> None:
    for org in ("tpu", "tusur"):
        body = register(browser, initial_token(app, org), valid_metadata()).json
        with app.extensions["campus_id"].sessions() as db:
            client = find_client(db, body["client_id"])
            assert client is not None and client.organization == org
