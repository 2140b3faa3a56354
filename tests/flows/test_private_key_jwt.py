"""private_key_jwt (RFC 7523, OpenID Connect Core 9): a client registered with its public keys
authenticates at the token, introspection and revocation endpoints with a signed assertion,
and every assertion that is not exactly right is refused with invalid_client. Authentication
is told apart cheaply: an authenticated client gets ``invalid_grant`` for a made-up code, an
unauthenticated one ``invalid_client``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from idp.oidc.client_keys import UNAVAILABLE
from idp.settings.model import OutboundSettings
from idp.storage.audit import AuditEvent
from idp.storage.base import utcnow
from idp.storage.client_assertions import ClientAssertionJti
from idp.storage.clients import Client
from idp.web.oidc import SERVER
from tests.support.client_keys import (
    ISSUER,
    JsonServer,
    assertion_form,
    json_server,
    make_key,
    public_jwks,
)
from tests.support.oidc_client import RelyingParty, sign_in
from tests.support.registration import initial_token, register, valid_metadata

REDIRECT = "https://library.tpu.example/callback"


def register_jwt_client(app: Flask, browser: FlaskClient, **metadata: Any) -> str:
    response = register(browser, initial_token(app), valid_metadata(
        token_endpoint_auth_method="private_key_jwt", redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        scope="openid profile offline_access", **metadata))
    assert response.status_code == 201, response.json
    assert "client_secret" not in response.json
    return str(response.json["client_id"])


def token_request(browser: FlaskClient, form: dict[str, str]) -> Any:
    return browser.post("/token", data={"grant_type": "authorization_code", "code": "made-up",
                                        "redirect_uri": REDIRECT, **form})


@pytest.fixture
def keys_server() -> Iterator[JsonServer]:
    with json_server() as server:
        yield server


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "EdDSA"])
def test_an_assertion_signed_with_a_registered_key_authenticates(
        app: Flask, browser: FlaskClient, alg: str) -> None:
    key = make_key(alg)
    client_id = register_jwt_client(app, browser, jwks=public_jwks(key))
    response = token_request(browser, assertion_form(key, client_id))
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    introspected = browser.post("/introspect", data={"token": "unknown",
                                                     **assertion_form(key, client_id)})
    assert introspected.status_code == 200 and introspected.json == {"active": False}
    revoked = browser.post("/revoke", data={"token": "unknown", **assertion_form(key, client_id)})
    assert revoked.status_code == 200


def test_the_token_endpoint_url_is_an_accepted_audience(app: Flask, browser: FlaskClient) -> None:
    key = make_key()
    client_id = register_jwt_client(app, browser, jwks=public_jwks(key))
    form = assertion_form(key, client_id, aud=[f"{ISSUER}/token", "https://elsewhere.example"])
    assert token_request(browser, form).json["error"] == "invalid_grant"


def refused(browser: FlaskClient, form: dict[str, str], text: str) -> None:
    response = token_request(browser, form)
    assert response.status_code in (400, 401), response.json
    assert response.json["error"] == "invalid_client"
    assert text in response.json["error_description"]


def test_wrong_claims_are_refused(app: Flask, browser: FlaskClient) -> None:
    key = make_key()
    client_id = register_jwt_client(app, browser, jwks=public_jwks(key))
    refused(browser, assertion_form(key, client_id, aud="https://other.example"), "aud")
    refused(browser, assertion_form(key, client_id, aud=f"{ISSUER}/userinfo"), "aud")
    refused(browser, assertion_form(key, client_id, exp=1_600_000_000), "expired")
    refused(browser, assertion_form(key, client_id, exp=None), "exp")
    refused(browser, assertion_form(key, client_id, exp=4_000_000_000), "ahead")
    refused(browser, assertion_form(key, client_id, jti=None), "jti")
    refused(browser, assertion_form(key, client_id, iss="someone-else"), "iss and sub")


def test_a_replayed_assertion_is_refused_and_audited(app: Flask, browser: FlaskClient) -> None:
    key = make_key()
    client_id = register_jwt_client(app, browser, jwks=public_jwks(key))
    form = assertion_form(key, client_id)
    assert token_request(browser, form).json["error"] == "invalid_grant"  # spent, though it failed
    refused(browser, form, "used before")
    introspected = browser.post("/introspect", data={"token": "x", **form})
    assert introspected.json["error"] == "invalid_client"
    with app.extensions["campus_id"].sessions() as db:
        replays = db.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.type == "client.assertion_replayed",
                                   AuditEvent.client_id == client_id))
        assert replays == 2
        assert db.scalar(select(func.count()).select_from(ClientAssertionJti)) == 1


def test_spent_ids_are_kept_until_their_assertion_expires(app: Flask, browser: FlaskClient) -> None:
    key = make_key()
    client_id = register_jwt_client(app, browser, jwks=public_jwks(key))
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        pk = db.scalar(select(Client.id).where(Client.client_id == client_id))
        db.add(ClientAssertionJti(client_pk=pk, jti="long-gone",
                                  expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    assert token_request(browser, assertion_form(key, client_id)).json["error"] == "invalid_grant"
    assert token_request(browser, assertion_form(key, client_id, jti="long-gone")).json["error"] \
        == "invalid_grant"  # pruned: its assertion expired long ago, so it cannot be replayed
    with services.sessions() as db:
        rows = db.scalars(select(ClientAssertionJti.jti)).all()
        assert "long-gone" in rows and len(rows) == 2
        expiry = db.scalar(select(ClientAssertionJti.expires_at)
                           .where(ClientAssertionJti.jti == "long-gone"))
        assert expiry is not None and expiry > utcnow()


def test_the_same_jti_from_another_client_is_its_own(app: Flask, browser: FlaskClient) -> None:
    key = make_key()
    first = register_jwt_client(app, browser, jwks=public_jwks(key))
    second = register_jwt_client(app, browser, jwks=public_jwks(key))
    assert token_request(browser, assertion_form(key, first, jti="same")).json["error"] == "invalid_grant"
    assert token_request(browser, assertion_form(key, second, jti="same")).json["error"] == "invalid_grant"


def test_wrong_keys_and_algorithms_are_refused(app: Flask, browser: FlaskClient) -> None:
    key = make_key("ES256", kid="k1")
    client_id = register_jwt_client(app, browser, jwks=public_jwks(key))
    refused(browser, assertion_form(make_key("ES256", kid="k1"), client_id), "signature")
    refused(browser, assertion_form(make_key("ES256", kid="k9"), client_id), "signature")
    refused(browser, assertion_form(None, client_id), "signed with one of")  # alg none
    hs = {"client_assertion_type": assertion_form(key, client_id)["client_assertion_type"],
          "client_assertion": _hs256(client_id)}
    refused(browser, hs, "signed with one of")
    refused(browser, {"client_assertion_type": hs["client_assertion_type"],
                      "client_assertion": "not-a-jwt"}, "not a signed JWT")


def _hs256(client_id: str) -> str:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    from tests.support.client_keys import assertion_claims

    return jwt.encode({"alg": "HS256"}, assertion_claims(client_id), OctKey.import_key("k" * 32))


def test_an_assertion_must_belong_to_a_private_key_jwt_client(
        app: Flask, browser: FlaskClient) -> None:
    key = make_key()
    client_id = register_jwt_client(app, browser, jwks=public_jwks(key))
    secret_client = register(browser, initial_token(app), valid_metadata()).json["client_id"]
    refused(browser, assertion_form(key, secret_client), "not a client registered for private_key_jwt")
    refused(browser, assertion_form(key, "nobody"), "not a client registered for private_key_jwt")
    mismatch = {**assertion_form(key, client_id), "client_id": secret_client}
    refused(browser, mismatch, "client_id does not match")
    # A private_key_jwt client cannot fall back to a secret or to none.
    response = token_request(browser, {"client_id": client_id, "client_secret": "guess"})
    assert response.json["error"] == "invalid_client"
    response = token_request(browser, {"client_id": client_id})
    assert response.json["error"] == "invalid_client"


def test_keys_come_from_the_jwks_uri_and_an_unknown_kid_fetches_them_again(
        app: Flask, browser: FlaskClient, keys_server: JsonServer) -> None:
    clock = Clock()
    app.extensions[SERVER].client_keys.clock = clock
    old, new = make_key("ES256", kid="old"), make_key("RS256", kid="new")
    uri = keys_server.serve("/jwks.json", public_jwks(old))
    client_id = register_jwt_client(app, browser, jwks_uri=uri)
    assert token_request(browser, assertion_form(old, client_id)).json["error"] == "invalid_grant"
    assert token_request(browser, assertion_form(old, client_id)).json["error"] == "invalid_grant"
    assert keys_server.hits["/jwks.json"] == 1  # cached
    keys_server.serve("/jwks.json", public_jwks(old, new))  # the client rotates
    clock.now += OutboundSettings.min_refetch_s  # at most one refetch per interval
    assert token_request(browser, assertion_form(new, client_id)).json["error"] == "invalid_grant"
    assert keys_server.hits["/jwks.json"] == 2
    clock.now += OutboundSettings.min_refetch_s
    refused(browser, assertion_form(make_key("ES256", kid="unknown"), client_id), "signature")
    assert keys_server.hits["/jwks.json"] == 3  # one fetch per unknown kid, no more
    refused(browser, assertion_form(make_key("ES256", kid="other"), client_id), "signature")
    assert keys_server.hits["/jwks.json"] == 3  # made-up kids in a row fetch nothing


def test_an_unreachable_jwks_uri_is_invalid_client(app: Flask, browser: FlaskClient,
                                                    keys_server: JsonServer) -> None:
    key = make_key()
    client_id = register_jwt_client(app, browser, jwks_uri=keys_server.url("/missing.json"))
    refused(browser, assertion_form(key, client_id), UNAVAILABLE)


class Clock:
    now = time.monotonic()

    def __call__(self) -> float:
        return self.now


def test_a_code_flow_with_private_key_jwt(app: Flask, browser: FlaskClient) -> None:
    key = make_key("ES256")
    client_id = register_jwt_client(app, browser, jwks=public_jwks(key))
    rp = RelyingParty(client_id, REDIRECT, scope="openid profile offline_access")
    result = sign_in(browser, rp, "asmirnova@tpu.ru", "Passw0rd-asmirnova")
    response = browser.post("/token", data={
        "grant_type": "authorization_code", "code": result["code"], "redirect_uri": REDIRECT,
        "code_verifier": rp.verifier, **assertion_form(key, client_id)})
    assert response.status_code == 200, response.json
    tokens = response.json
    assert tokens["id_token"] and tokens["refresh_token"]
    refreshed = browser.post("/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        **assertion_form(key, client_id)})
    assert refreshed.status_code == 200, refreshed.json
    introspected = browser.post("/introspect", data={
        "token": refreshed.json["access_token"], **assertion_form(key, client_id)})
    assert introspected.json["active"] is True and introspected.json["client_id"] == client_id
