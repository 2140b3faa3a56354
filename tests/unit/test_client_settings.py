"""Static clients in the configuration file: grant types, scopes and access token format are
checked together, every problem listed with its key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from idp.settings import AccessTokenFormat, GrantType, RefreshTokenPolicy
from idp.settings.load import parse_settings
from idp.settings.model import ClientSettings
from idp.storage import clients as clients_storage
from tests.support.client_keys import make_key, public_jwks


def parse_client(dev_mode: bool = True, **client: Any) -> tuple[ClientSettings | None, list[str]]:
    data = {
        "server": {"issuer": "https://id.example.org", "dev_mode": dev_mode,
                   "secret_key": "s" * 40},
        "organizations": {"tpu": {"name": "TPU", "scope": "tpu.ru", "directory": {
            "uris": ["ldaps://ldap.tpu.ru"], "base_dn": "dc=tpu,dc=ru"}}},
        "clients": {"c": {"name": "C", **client}},
    }
    problems: list[str] = []
    settings = parse_settings(data, problems)
    return settings.clients.get("c"), problems


def test_defaults_are_the_code_flow_with_opaque_tokens() -> None:
    client, problems = parse_client(redirect_uris=["https://rp.example.org/cb"],
                                    client_secret="x" * 20)
    assert not problems and client is not None
    assert client.grant_types == (GrantType.AUTHORIZATION_CODE,)
    assert client.access_token_format is AccessTokenFormat.OPAQUE
    assert client.refresh_token_policy is RefreshTokenPolicy.OFFLINE_ACCESS
    assert client.scopes == ("openid", "profile", "email", "campus")


def test_a_configured_redirect_uri_with_a_backslash_is_a_problem() -> None:
    _, problems = parse_client(redirect_uris=["https://rp.example.org\\@evil.example/cb"])
    assert any("has characters a URI may not have" in problem for problem in problems), problems


def test_service_client_needs_no_redirect_uri() -> None:
    client, problems = parse_client(grant_types=["client_credentials"], client_secret="x" * 20,
                                    scopes=["schedule.read"], access_token_format="jwt",
                                    access_token_audience="https://api.tpu.ru/schedule")
    assert not problems and client is not None
    assert client.grant_types == (GrantType.CLIENT_CREDENTIALS,) and client.redirect_uris == ()


@pytest.mark.parametrize(("client", "expected"), [
    ({"grant_types": ["password"], "redirect_uris": ["https://rp.example.org/cb"]},
     "clients.c.grant_types: 'password' is not a supported grant type"),
    ({"grant_types": []}, "clients.c.grant_types: must not be empty"),
    ({"grant_types": ["authorization_code"]},
     "clients.c.redirect_uris: the authorization_code grant needs at least one redirect URI"),
    ({"grant_types": ["client_credentials"], "redirect_uris": ["https://rp.example.org/cb"]},
     "clients.c.redirect_uris: only a client of the authorization_code grant"),
    ({"grant_types": ["refresh_token", "client_credentials"]},
     "clients.c.grant_types: refresh_token is only issued with authorization_code"),
    ({"grant_types": ["authorization_code", "client_credentials"], "public": True,
      "client_secret": "", "redirect_uris": ["https://rp.example.org/cb"]},
     "clients.c.grant_types: client_credentials is for confidential clients only"),
    ({"redirect_uris": ["https://rp.example.org/cb"], "refresh_token_policy": "always"},
     'clients.c.refresh_token_policy: "always" needs the refresh_token grant type'),
    ({"redirect_uris": ["https://rp.example.org/cb"], "refresh_token_policy": "sometimes"},
     "clients.c.refresh_token_policy: must be one of"),
    ({"redirect_uris": ["https://rp.example.org/cb"], "access_token_format": "saml"},
     "clients.c.access_token_format: must be one of 'opaque', 'jwt'"),
    ({"redirect_uris": ["https://rp.example.org/cb"], "access_token_audience": "api"},
     "clients.c.access_token_audience: 'api' must be an absolute URI"),
    ({"redirect_uris": ["https://rp.example.org/cb"], "scopes": ["openid", "two words"]},
     "clients.c.scopes: 'two words' is not a scope token"),
    ({"redirect_uris": ["https://rp.example.org/cb"], "scopes": ["back\\slash"]},
     "is not a scope token"),
])
def test_problems_name_their_key(client: dict[str, Any], expected: str) -> None:
    _, problems = parse_client(**{"client_secret": "x" * 20, **client})
    assert any(expected in p for p in problems), problems


def test_refresh_lifetimes_are_checked_together() -> None:
    data: dict[str, Any] = {
        "server": {"issuer": "https://id.example.org", "secret_key": "s" * 40},
        "oidc": {"refresh_token_lifetime_s": 3600, "refresh_token_idle_lifetime_s": 7200},
        "organizations": {},
    }
    problems: list[str] = []
    parse_settings(data, problems)
    assert "oidc.refresh_token_idle_lifetime_s: must not be longer than refresh_token_lifetime_s" in problems


def test_generated_client_ids_never_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A leading dash made `idp clients release set -Xyz…` read the id as an option."""
    drawn = iter(["-starts-with-a-dash", "plain-id"])
    monkeypatch.setattr(clients_storage.secrets, "token_urlsafe", lambda _n: next(drawn))
    assert clients_storage.new_client_id() == "plain-id"


# --- private_key_jwt and pairwise subjects: the rules of registration (idp.oidc.key_metadata) -
KEY = make_key("ES256", kid="rp-key")
CB = "https://rp.example.org/cb"


def test_private_key_jwt_with_inline_keys_needs_no_secret() -> None:
    client, problems = parse_client(redirect_uris=[CB], token_endpoint_auth_method="private_key_jwt",
                                    jwks=public_jwks(KEY))
    assert not problems and client is not None
    assert client.token_endpoint_auth_method == "private_key_jwt" and client.client_secret == ""
    assert client.jwks == public_jwks(KEY)


def test_jwks_may_be_a_json_string_as_an_environment_override_gives_it() -> None:
    client, problems = parse_client(redirect_uris=[CB], token_endpoint_auth_method="private_key_jwt",
                                    jwks=json.dumps(public_jwks(KEY)))
    assert not problems and client is not None and client.jwks == public_jwks(KEY)


@pytest.mark.parametrize("client", [
    {"redirect_uris": [CB, "https://rp.example.org/other"]},  # one host: its sector
    {"redirect_uris": [CB, "https://other.example.org/cb"],
     "sector_identifier_uri": "https://rp.example.org/sector.json"},
])
def test_pairwise_subjects(client: dict[str, Any]) -> None:
    found, problems = parse_client(client_secret="x" * 20, subject_type="pairwise", **client)
    assert not problems and found is not None and found.subject_type == "pairwise"


@pytest.mark.parametrize(("client", "expected"), [
    ({"token_endpoint_auth_method": "private_key_jwt"},
     "clients.c.jwks: private_key_jwt needs the client's public keys: jwks or jwks_uri"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": public_jwks(KEY),
      "jwks_uri": "https://rp.example.org/jwks.json"},
     "clients.c.jwks: give jwks or jwks_uri, not both"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [KEY.as_dict(private=True)]}},
     "clients.c.jwks: the set must hold public keys only"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": 5}, "clients.c.jwks: must be a table"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": "{not json"},
     "clients.c.jwks: must be a JWK set"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "ftp://rp.example.org/jwks"},
     "clients.c.jwks_uri: must be an absolute https URL"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": public_jwks(KEY),
      "client_secret": "x" * 20},
     "clients.c.client_secret: a private_key_jwt client has no secret"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": public_jwks(KEY), "public": True,
      "client_secret": ""},
     "clients.c.token_endpoint_auth_method: a public client authenticates with none"),
    ({"token_endpoint_auth_method": "client_secret_jwt"},
     "clients.c.token_endpoint_auth_method: must be one of client_secret_basic, client_secret_post, "
     "private_key_jwt"),
    ({"subject_type": "anonymous"}, "clients.c.subject_type: must be one of public, pairwise"),
    ({"subject_type": "pairwise", "redirect_uris": [CB, "https://other.example.org/cb"]},
     "clients.c.sector_identifier_uri: is required: the redirect URIs have several hosts"),
    ({"sector_identifier_uri": "https://rp.example.org/sector.json"},
     "clients.c.sector_identifier_uri: is only for a pairwise client"),
    ({"subject_type": "pairwise", "sector_identifier_uri": "ftp://rp.example.org/sector.json"},
     "clients.c.sector_identifier_uri: must be an absolute https URL"),
])
def test_key_and_subject_problems_name_their_key(client: dict[str, Any], expected: str) -> None:
    _, problems = parse_client(**{"client_secret": "x" * 20, "redirect_uris": [CB], **client})
    assert any(expected in p for p in problems), problems


def test_every_key_problem_is_listed_with_the_others() -> None:
    _, problems = parse_client(redirect_uris=[CB, "https://other.example.org/cb"],
                               token_endpoint_auth_method="private_key_jwt", subject_type="pairwise",
                               scopes=["two words"])
    assert {p.split(":")[0] for p in problems} == {
        "clients.c.jwks", "clients.c.sector_identifier_uri", "clients.c.scopes"}
