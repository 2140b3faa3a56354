"""What a relying party library reads before anything else: the provider metadata and the
published keys, consistent with each other and with the issuer."""

from __future__ import annotations

from flask.testing import FlaskClient
from joserfc.jwk import KeySet

from idp.app import create_app
from idp.settings import Settings

ISSUER = "https://id.campus.test"


def test_metadata_names_the_issuer_and_its_endpoints(browser: FlaskClient) -> None:
    response = browser.get("/.well-known/openid-configuration")
    assert response.status_code == 200 and response.mimetype == "application/json"
    meta = response.json
    assert meta["issuer"] == ISSUER
    for name, path in (("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                       ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/jwks")):
        assert meta[name] == ISSUER + path
        assert browser.get(path).status_code != 404
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "profile", "email", "campus"} <= set(meta["scopes_supported"])
    assert {"campus_id", "affiliations", "middle_name"} <= set(meta["claims_supported"])
    assert set(meta["id_token_signing_alg_values_supported"]) == {"RS256", "ES256", "EdDSA"}


def test_jwks_publishes_one_public_key_per_advertised_algorithm(browser: FlaskClient) -> None:
    keys = browser.get("/jwks").json["keys"]
    advertised = browser.get("/.well-known/openid-configuration").json
    assert sorted(k["alg"] for k in keys) == sorted(advertised["id_token_signing_alg_values_supported"])
    assert len({k["kid"] for k in keys}) == len(keys)
    for key in keys:
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "a private part is published"
    KeySet.import_key_set({"keys": keys})


def test_keys_survive_a_restart(browser: FlaskClient, settings: Settings) -> None:
    before = browser.get("/jwks").json
    again = create_app(settings)
    try:
        assert again.test_client().get("/jwks").json == before
    finally:
        again.extensions["campus_id"].engine.dispose()


def test_client_authentication_par_request_objects_and_subjects_are_advertised(
        browser: FlaskClient) -> None:
    meta = browser.get("/.well-known/openid-configuration").json
    algs = ["RS256", "PS256", "ES256", "EdDSA"]
    for endpoint in ("token", "introspection", "revocation"):
        assert "private_key_jwt" in meta[f"{endpoint}_endpoint_auth_methods_supported"]
        assert meta[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == algs
    assert "client_secret_jwt" not in meta["token_endpoint_auth_methods_supported"]
    assert meta["subject_types_supported"] == ["public", "pairwise"]
    assert meta["pushed_authorization_request_endpoint"] == ISSUER + "/par"
    assert browser.post("/par").json["error"] == "invalid_client"  # there, and authenticated
    assert meta["require_pushed_authorization_requests"] is False
    assert meta["request_parameter_supported"] is True
    assert meta["request_object_signing_alg_values_supported"] == algs
    assert meta["request_uri_parameter_supported"] is False
