"""A Python relying party built from libraries we did not write: requests-oauthlib (discovery
document read by the test, code + PKCE S256, state checked, the token request with
client_secret_basic) and jwcrypto validating the ID token against the published JWKS (signature
with the expected algorithm only, iss, aud, exp, iat, nonce), then UserInfo with the bearer token;
for each signing algorithm."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests
from jwcrypto import jwk
from jwcrypto import jwt as jwcrypto_jwt
from requests_oauthlib import OAuth2Session

from demo.stack import ProviderStack
from tests.interop.test_logout import Browser

pytestmark = pytest.mark.interop
# An https redirect URI, so that oauthlib's transport checks stay on; never fetched: the test
# hands the URL the browser was sent to straight to the library.
CALLBACK = "https://rp.python.interop.test/callback"


def discover(provider: ProviderStack) -> dict[str, Any]:
    response = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10,
                            verify=str(provider.ca_file))
    response.raise_for_status()
    meta: dict[str, Any] = response.json()
    assert meta["issuer"] == provider.issuer
    return meta


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_requests_oauthlib_and_jwcrypto_log_in(provider: ProviderStack, alg: str) -> None:
    created = json.loads(provider.idp("clients", "create", "--name", f"Python RP {alg}",
                                      "--redirect-uri", CALLBACK, "--id-token-alg", alg, "--json"))
    meta = discover(provider)
    assert alg in meta["id_token_signing_alg_values_supported"]
    assert "S256" in meta["code_challenge_methods_supported"]

    rp = OAuth2Session(created["client_id"], redirect_uri=CALLBACK, pkce="S256",
                       scope=["openid", "profile", "email", "campus"])
    nonce = secrets.token_urlsafe(16)
    url, _state = rp.authorization_url(meta["authorization_endpoint"], nonce=nonce)
    callback = Browser(provider).log_in(url, "demo@tusur.ru", "demo")
    assert callback.startswith(CALLBACK)
    token = rp.fetch_token(meta["token_endpoint"], authorization_response=callback,
                           client_secret=created["client_secret"], include_client_id=False,
                           verify=str(provider.ca_file))
    assert token["token_type"].lower() == "bearer"

    keys = jwk.JWKSet.from_json(requests.get(meta["jwks_uri"], timeout=10,
                                             verify=str(provider.ca_file)).text)
    id_token = jwcrypto_jwt.JWT(jwt=token["id_token"], key=keys, algs=[alg], expected_type="JWS",
                                check_claims={"iss": provider.issuer, "aud": created["client_id"],
                                              "exp": None, "iat": None, "sub": None, "nonce": nonce})
    claims = json.loads(id_token.claims)
    assert id_token.token.jose_header["alg"] == alg

    # The CA is given per request: an environment CA bundle would override a session's.
    userinfo = rp.get(meta["userinfo_endpoint"], timeout=10, verify=str(provider.ca_file))
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == claims["sub"]
    assert userinfo.json()["preferred_username"] == "demo@tusur.ru"


def test_jwcrypto_refuses_an_id_token_with_another_algorithm_than_registered(
        provider: ProviderStack) -> None:
    """The check above is real: asked for RS256 only, jwcrypto finds no key that may verify the
    ES256 token (its kid names an ES256 key) and refuses it."""
    created = json.loads(provider.idp("clients", "create", "--name", "Python RP strict",
                                      "--redirect-uri", CALLBACK, "--id-token-alg", "ES256", "--json"))
    meta = discover(provider)
    rp = OAuth2Session(created["client_id"], redirect_uri=CALLBACK, pkce="S256", scope=["openid"])
    url, _state = rp.authorization_url(meta["authorization_endpoint"], nonce="n-0123456789")
    callback = Browser(provider).log_in(url, "demo@tusur.ru", "demo")
    token = rp.fetch_token(meta["token_endpoint"], authorization_response=callback,
                           client_secret=created["client_secret"], include_client_id=False,
                           verify=str(provider.ca_file))
    keys = jwk.JWKSet.from_json(requests.get(meta["jwks_uri"], timeout=10,
                                             verify=str(provider.ca_file)).text)
    with pytest.raises(jwcrypto_jwt.JWTMissingKey):
        jwcrypto_jwt.JWT(jwt=token["id_token"], key=keys, algs=["RS256"],
                         check_claims={"iss": provider.issuer, "aud": created["client_id"]})
