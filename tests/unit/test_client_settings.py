"""Static clients in the configuration file: grant types, scopes and access token format are
checked together, every problem listed with its key."""

from __future__ import annotations

from typing import Any

import pytest

from idp.settings import AccessTokenFormat, GrantType, RefreshTokenPolicy
from idp.settings.load import parse_settings
from idp.settings.model import ClientSettings
from idp.storage import clients as clients_storage


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
