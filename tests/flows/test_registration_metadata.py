"""Every client metadata rule of a registration, one request each: a refused request gets a
standard RFC 7591 error whose description names the field, and creates nothing; an accepted
one is stored as asked. Updates (RFC 7592) go through the same rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp.app import create_app
from idp.settings import Settings
from idp.storage.clients import find_client
from tests.support.client_keys import make_key, public_jwks
from tests.support.oidc_client import is_login_form
from tests.support.registration import (
    initial_token,
    manage,
    register,
    registered_clients,
    valid_metadata,
)

REDIRECT = "invalid_redirect_uri"
METADATA = "invalid_client_metadata"
DROP = None  # a field left out of the request
KEY = make_key("ES256", kid="rp-key")

# (case, changes to a valid request, expected error, text the description must contain)
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("redirect_uris missing", {"redirect_uris": DROP}, REDIRECT, "redirect_uris: is required"),
    ("redirect_uris empty", {"redirect_uris": []}, REDIRECT, "redirect_uris"),
    ("redirect_uris not a list", {"redirect_uris": "https://a.example/cb"}, REDIRECT, "redirect_uris"),
    ("redirect_uri relative", {"redirect_uris": ["/callback"]}, REDIRECT, "absolute"),
    ("redirect_uri without host", {"redirect_uris": ["https:///cb"]}, REDIRECT, "absolute"),
    ("redirect_uri http", {"redirect_uris": ["http://library.tpu.example/cb"]}, REDIRECT, "https"),
    ("redirect_uri fragment", {"redirect_uris": ["https://a.example/cb#x"]}, REDIRECT, "fragment"),
    ("redirect_uri custom scheme", {"redirect_uris": ["myapp://cb"]}, REDIRECT, "https"),
    ("redirect_uri http to a public host in dev mode",
     {"redirect_uris": ["http://192.0.2.7/cb"]}, REDIRECT, "loopback"),
    ("private_key_jwt without keys", {"token_endpoint_auth_method": "private_key_jwt"}, METADATA,
     "jwks: private_key_jwt needs the client's public keys"),
    ("jwks and jwks_uri both", {"jwks": public_jwks(KEY), "jwks_uri": "https://a.example/j"},
     METADATA, "jwks: give jwks or jwks_uri, not both"),
    ("jwks not a set", {"jwks": [KEY.as_dict(private=False)]}, METADATA, "jwks: must be a JWK set"),
    ("jwks with a private key", {"jwks": {"keys": [KEY.as_dict(private=True)]}}, METADATA,
     "jwks: the set must hold public keys only"),
    ("jwks with a shared secret", {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, METADATA,
     "jwks: the set must hold public keys only"),
    ("jwks_uri not https", {"jwks_uri": "ftp://a.example/jwks"}, METADATA, "jwks_uri: must be"),
    ("request object alg none", {"request_object_signing_alg": "none", "jwks": public_jwks(KEY)},
     METADATA, "request_object_signing_alg: 'none' is not accepted"),
    ("request object alg without keys", {"request_object_signing_alg": "ES256"}, METADATA,
     "request_object_signing_alg: signed request objects need"),
    ("require PAR not a flag", {"require_pushed_authorization_requests": "yes"}, METADATA,
     "require_pushed_authorization_requests"),
    ("auth method client_secret_jwt", {"token_endpoint_auth_method": "client_secret_jwt"}, METADATA,
     "token_endpoint_auth_method"),
    ("auth method not a string", {"token_endpoint_auth_method": ["none"]}, METADATA,
     "token_endpoint_auth_method"),
    ("grant type implicit", {"grant_types": ["authorization_code", "implicit"]}, METADATA,
     "grant_types: 'implicit'"),
    ("grant type client_credentials", {"grant_types": ["client_credentials"]}, METADATA,
     "grant_types"),
    ("refresh_token alone", {"grant_types": ["refresh_token"]}, METADATA,
     "refresh_token is only issued alongside authorization_code"),
    ("grant_types empty", {"grant_types": []}, METADATA, "grant_types"),
    ("response type token", {"response_types": ["code", "token"]}, METADATA, "response_types: 'token'"),
    ("response type id_token", {"response_types": ["id_token"]}, METADATA, "response_types"),
    ("code without its grant", {"response_types": ["code"], "grant_types": ["refresh_token"]},
     METADATA, "grant_types"),
    ("logo_uri http", {"logo_uri": "http://library.tpu.example/logo.png"}, METADATA, "logo_uri"),
    ("policy_uri http", {"policy_uri": "http://library.tpu.example/p"}, METADATA, "policy_uri"),
    ("tos_uri relative", {"tos_uri": "/terms"}, METADATA, "tos_uri"),
    ("client_uri not a string", {"client_uri": 7}, METADATA, "client_uri"),
    ("localised logo http", {"logo_uri#ru": "http://library.tpu.example/l.png"}, METADATA,
     "logo_uri#ru"),
    ("client_name missing", {"client_name": DROP}, METADATA, "client_name: is required"),
    ("client_name blank", {"client_name": "   "}, METADATA, "client_name"),
    ("client_name too long", {"client_name": "x" * 201}, METADATA, "client_name"),
    ("client_name#ru not a string", {"client_name#ru": 5}, METADATA, "client_name#ru"),
    ("client_name bad language tag", {"client_name#ru ru": "Портал"}, METADATA, "language tag"),
    ("empty language tag", {"tos_uri#": "https://a.example/t"}, METADATA, "language tag"),
    ("id_token alg none", {"id_token_signed_response_alg": "none"}, METADATA,
     "id_token_signed_response_alg"),
    ("id_token alg HS256", {"id_token_signed_response_alg": "HS256"}, METADATA,
     "id_token_signed_response_alg"),
    ("scope unknown", {"scope": "openid admin"}, METADATA, "scope: 'admin'"),
    ("offline_access without refresh_token", {"scope": "openid offline_access"}, METADATA,
     "offline_access"),
    ("unknown subject type", {"subject_type": "anonymous"}, METADATA,
     "subject_type: must be one of public, pairwise"),
    ("pairwise over two hosts", {"subject_type": "pairwise", "redirect_uris": [
        "https://a.example/cb", "https://b.example/cb"]}, METADATA,
     "sector_identifier_uri: is required"),
    ("sector identifier of a public client", {"sector_identifier_uri": "https://a.example/s"},
     METADATA, "sector_identifier_uri: is only for a pairwise client"),
    ("sector identifier not https", {"subject_type": "pairwise",
                                     "sector_identifier_uri": "ftp://a.example/s"}, METADATA,
     "sector_identifier_uri: must be an absolute https URL"),
    ("event_delivery_uri relative", {"event_delivery_uri": "/events"}, METADATA,
     "event_delivery_uri: '/events' must be an absolute URI"),
    ("event_delivery_uri http to a public host",
     {"event_delivery_uri": "http://library.tpu.example/events"}, METADATA,
     "event_delivery_uri: 'http://library.tpu.example/events' must use https"),
    ("event_delivery_uri fragment", {"event_delivery_uri": "https://a.example/events#x"},
     METADATA, "event_delivery_uri: 'https://a.example/events#x' must not contain a fragment"),
    ("event_delivery_uri not a string", {"event_delivery_uri": ["https://a.example/events"]},
     METADATA, "event_delivery_uri: must be an absolute URI"),
    ("encrypted ID tokens", {"id_token_encrypted_response_alg": "RSA-OAEP"}, METADATA,
     "id_token_encrypted_response_alg"),
    ("contacts not a list", {"contacts": "it@tpu.example"}, METADATA, "contacts"),
    ("unknown profile", {"campus_profile": "wordpress"}, METADATA, "campus_profile"),
    ("moodle profile with a public client",
     {"campus_profile": "moodle", "token_endpoint_auth_method": "none",
      "redirect_uris": ["https://moodle.tpu.example/admin/oauth2callback.php"]},
     METADATA, "token_endpoint_auth_method"),
    ("moodle profile elsewhere than its callback", {"campus_profile": "moodle"}, REDIRECT,
     "/admin/oauth2callback.php"),
]


@pytest.mark.parametrize(("changes", "error", "text"),
                         [pytest.param(c, e, t, id=name) for name, c, e, t in REFUSED])
def test_refused_metadata_names_the_field_and_creates_nothing(
        app: Flask, browser: FlaskClient, changes: dict[str, Any], error: str, text: str) -> None:
    response = register(browser, initial_token(app), valid_metadata(**changes))
    assert response.status_code == 400, response.json
    assert response.json["error"] == error
    assert text in response.json["error_description"]
    assert registered_clients(app) == 0


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"a string"', b"", b"null"])
def test_a_body_that_is_not_a_json_object_is_invalid_metadata(
        app: Flask, browser: FlaskClient, body: bytes) -> None:
    response = browser.post("/register", data=body, content_type="application/json",
                            headers={"Authorization": f"Bearer {initial_token(app)}"})
    assert response.status_code == 400
    assert response.json["error"] == METADATA and response.json["error_description"]
    assert registered_clients(app) == 0


def test_a_form_instead_of_json_is_invalid_metadata(app: Flask, browser: FlaskClient) -> None:
    response = browser.post("/register", data={"client_name": "x"},
                            headers={"Authorization": f"Bearer {initial_token(app)}"})
    assert response.status_code == 400 and response.json["error"] == METADATA


def test_every_problem_is_reported_at_once(app: Flask, browser: FlaskClient) -> None:
    response = register(browser, initial_token(app), valid_metadata(
        redirect_uris=["http://a.example/cb"], logo_uri="ftp://a.example/l.png",
        grant_types=["implicit"]))
    assert response.json["error"] == METADATA  # not only redirect URIs are wrong
    for field in ("redirect_uris", "logo_uri", "grant_types"):
        assert field in response.json["error_description"]


# (case, changes to a valid request, what the response must then say)
ACCEPTED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("defaults", {}, {"token_endpoint_auth_method": "client_secret_basic",
                      "grant_types": ["authorization_code"], "response_types": ["code"],
                      "id_token_signed_response_alg": "RS256"}),
    ("client_secret_post", {"token_endpoint_auth_method": "client_secret_post"},
     {"token_endpoint_auth_method": "client_secret_post"}),
    ("public client", {"token_endpoint_auth_method": "none"},
     {"token_endpoint_auth_method": "none"}),
    ("loopback http in dev mode", {"redirect_uris": ["http://127.0.0.1:8400/cb",
                                                     "http://localhost:8400/cb"]},
     {"redirect_uris": ["http://127.0.0.1:8400/cb", "http://localhost:8400/cb"]}),
    ("query string kept", {"redirect_uris": ["https://a.example/cb?tenant=tpu"]},
     {"redirect_uris": ["https://a.example/cb?tenant=tpu"]}),
    ("refresh tokens", {"grant_types": ["authorization_code", "refresh_token"],
                        "scope": "openid offline_access"},
     {"grant_types": ["authorization_code", "refresh_token"], "scope": "openid offline_access"}),
    ("ES256 ID tokens", {"id_token_signed_response_alg": "ES256"},
     {"id_token_signed_response_alg": "ES256"}),
    ("narrower scope", {"scope": "openid email"}, {"scope": "openid email"}),
    ("localised names and https URIs",
     {"client_name#ru": "Портал", "client_name#en-GB": "Portal", "tos_uri#ru": "https://a.example/ru"},
     {"client_name#ru": "Портал", "client_name#en-GB": "Portal", "tos_uri#ru": "https://a.example/ru"}),
    ("public subjects", {"subject_type": "public"}, {"subject_type": "public"}),
    ("pairwise subjects", {"subject_type": "pairwise"}, {"subject_type": "pairwise"}),
    ("private_key_jwt with jwks", {"token_endpoint_auth_method": "private_key_jwt",
                                   "jwks": public_jwks(KEY)},
     {"token_endpoint_auth_method": "private_key_jwt", "jwks": public_jwks(KEY)}),
    ("private_key_jwt with jwks_uri", {"token_endpoint_auth_method": "private_key_jwt",
                                       "jwks_uri": "https://a.example/jwks.json"},
     {"jwks_uri": "https://a.example/jwks.json"}),
    ("signed requests pushed", {"jwks": public_jwks(KEY), "request_object_signing_alg": "ES256",
                                "require_pushed_authorization_requests": True},
     {"request_object_signing_alg": "ES256", "require_pushed_authorization_requests": True}),
    ("security events pushed", {"event_delivery_uri": "https://library.tpu.example/events"},
     {"event_delivery_uri": "https://library.tpu.example/events"}),
    ("unknown fields ignored", {"frontchannel_logout_uri": "https://a.example/l", "x-custom": 1},
     {}),
]


@pytest.mark.parametrize(("changes", "expected"),
                         [pytest.param(c, e, id=name) for name, c, e in ACCEPTED])
def test_accepted_metadata_is_registered_as_asked(
        app: Flask, browser: FlaskClient, changes: dict[str, Any], expected: dict[str, Any]) -> None:
    response = register(browser, initial_token(app), valid_metadata(**changes))
    assert response.status_code == 201, response.json
    for key, value in expected.items():
        assert response.json[key] == value, key
    for ignored in ("frontchannel_logout_uri", "x-custom"):
        assert ignored not in response.json


def test_an_update_is_validated_like_a_registration(app: Flask, browser: FlaskClient) -> None:
    created = register(browser, initial_token(app), valid_metadata()).json
    uri, token = created["registration_client_uri"], created["registration_access_token"]
    for changes, error in ((({"redirect_uris": ["https://a.example/#f"]}), REDIRECT),
                           ({"token_endpoint_auth_method": "private_key_jwt"}, METADATA),
                           ({"subject_type": "pairwise", "redirect_uris": [
                               "https://a.example/cb", "https://b.example/cb"]}, METADATA),
                           ({"grant_types": ["refresh_token"]}, METADATA)):
        response = manage(browser, "PUT", uri, token,
                          valid_metadata(client_id=created["client_id"], **changes))
        assert response.status_code == 400 and response.json["error"] == error, changes
    assert manage(browser, "GET", uri, token).json["redirect_uris"] == created["redirect_uris"]


def test_event_delivery_uri_is_stored_changed_and_dropped_through_management(
        app: Flask, browser: FlaskClient) -> None:
    """RFC 7592 2.2: an update replaces the metadata, so leaving the field out removes it."""
    events = "https://library.tpu.example/events"
    created = register(browser, initial_token(app), valid_metadata(event_delivery_uri=events)).json
    uri, token = created["registration_client_uri"], created["registration_access_token"]
    assert stored_event_uri(app, created["client_id"]) == events
    assert manage(browser, "GET", uri, token).json["event_delivery_uri"] == events
    moved = "https://library.tpu.example/v2/events"
    response = manage(browser, "PUT", uri, token, valid_metadata(
        client_id=created["client_id"], event_delivery_uri=moved))
    assert response.status_code == 200 and response.json["event_delivery_uri"] == moved
    assert stored_event_uri(app, created["client_id"]) == moved
    refused = manage(browser, "PUT", uri, token, valid_metadata(
        client_id=created["client_id"], event_delivery_uri="http://library.tpu.example/e"))
    assert refused.status_code == 400 and "event_delivery_uri" in refused.json["error_description"]
    assert stored_event_uri(app, created["client_id"]) == moved
    response = manage(browser, "PUT", uri, token, valid_metadata(client_id=created["client_id"]))
    assert response.status_code == 200 and "event_delivery_uri" not in response.json
    assert stored_event_uri(app, created["client_id"]) is None


def stored_event_uri(app: Flask, client_id: str) -> str | None:
    with app.extensions["campus_id"].sessions() as db:
        client = find_client(db, client_id)
        assert client is not None
        return client.event_delivery_uri


@pytest.mark.parametrize("asked", [
    "https://library.tpu.example/callback/",  # trailing slash
    "https://library.tpu.example/callback",  # the registered query left out
    "https://library.tpu.example/callback?tenant=tsu",  # another query
    "https://library.tpu.example/callback?tenant=tpu&x=1",  # one more parameter
    "https://library.tpu.example/callback/more?tenant=tpu",  # a longer path
    "http://library.tpu.example/callback?tenant=tpu",  # another scheme
    "https://library.tpu.example:8443/callback?tenant=tpu",  # another port
    "https://evil.tpu.example/callback?tenant=tpu",  # another host
])
def test_a_registered_redirect_uri_must_match_exactly_at_authorization(
        app: Flask, browser: FlaskClient, asked: str) -> None:
    registered = "https://library.tpu.example/callback?tenant=tpu"
    created = register(browser, initial_token(app), valid_metadata(redirect_uris=[registered])).json
    params = {"response_type": "code", "client_id": created["client_id"], "scope": "openid",
              "state": "s", "code_challenge": "x" * 43, "code_challenge_method": "S256"}
    response = browser.get("/authorize", query_string={**params, "redirect_uri": asked})
    assert response.status_code == 400  # an error page of the provider, never a redirect
    assert "Location" not in response.headers
    exact = browser.get("/authorize", query_string={**params, "redirect_uri": registered})
    assert is_login_form(exact)


def test_loopback_http_is_refused_outside_dev_mode(settings: Settings) -> None:
    """The same request that dev mode accepts (see ACCEPTED) is an invalid_redirect_uri in
    production, and registers nothing."""
    production = replace(settings, server=replace(settings.server, dev_mode=False))
    app = create_app(production)
    try:
        browser = app.test_client()
        for uri in ("http://127.0.0.1:8400/cb", "http://[::1]:8400/cb", "http://localhost/cb"):
            response = register(browser, initial_token(app), valid_metadata(redirect_uris=[uri]))
            assert response.status_code == 400, uri
            assert response.json["error"] == REDIRECT
            assert "redirect_uris" in response.json["error_description"]
        assert registered_clients(app) == 0
        https = register(browser, initial_token(app), valid_metadata())
        assert https.status_code == 201
    finally:
        app.extensions["campus_id"].engine.dispose()
