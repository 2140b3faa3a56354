"""``release_claims`` and the consent links (``logo_uri``, ``policy_uri``, ``tos_uri``) of a
static client: checked at load with every problem named by its key."""

from __future__ import annotations

from tests.unit.test_client_settings import parse_client

RP = {"redirect_uris": ["https://rp.example.org/cb"], "client_secret": "x" * 20}


def test_without_the_key_the_configuration_leaves_release_alone() -> None:
    client, problems = parse_client(**RP)
    assert not problems and client is not None
    assert client.release_claims is None
    assert (client.logo_uri, client.policy_uri, client.tos_uri) == ("", "", "")


def test_release_claims_and_links_are_read() -> None:
    client, problems = parse_client(**RP, release_claims=["name", "email", "name"],
                                    logo_uri="https://rp.example.org/logo.svg",
                                    policy_uri="https://rp.example.org/privacy",
                                    tos_uri="https://rp.example.org/terms")
    assert not problems and client is not None
    assert client.release_claims == ("name", "email")
    assert client.logo_uri == "https://rp.example.org/logo.svg"


def test_an_empty_list_is_a_policy_too() -> None:
    client, problems = parse_client(**RP, release_claims=[])
    assert not problems and client is not None and client.release_claims == ()


def test_every_mistake_is_named() -> None:
    _, problems = parse_client(**RP, release_claims=["name", "sub", "phone"],
                               logo_uri="http://rp.example.org/logo.png",
                               policy_uri="/privacy", tos_uri="https://rp.example.org/t#x")
    assert "clients.c.release_claims: 'sub' is always released and is not part of a policy" in problems
    assert any(p.startswith("clients.c.release_claims: 'phone' is not a claim") for p in problems)
    for key in ("logo_uri", "policy_uri", "tos_uri"):
        assert any(p.startswith(f"clients.c.{key}: ") and "https" in p for p in problems), key
    _, problems = parse_client(**RP, release_claims="name")
    assert "clients.c.release_claims: must be a list of strings" in problems
