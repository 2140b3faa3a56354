"""Client metadata rules as plain functions: what dev mode changes, what a profile presets,
and what the CLI's durations accept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc7591 import InvalidClientMetadataError, InvalidRedirectURIError

from idp.oidc.client_metadata import parse_client_metadata
from idp.oidc.registration import parse_duration

BASE = {"client_name": "Portal", "redirect_uris": ["https://portal.example/cb"]}


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8400/cb", "http://localhost/cb",
                                 "http://[::1]:8400/cb"])
def test_loopback_http_only_in_dev_mode(uri: str) -> None:
    assert parse_client_metadata({**BASE, "redirect_uris": [uri]}, dev_mode=True).redirect_uris == (uri,)
    with pytest.raises(InvalidRedirectURIError, match=r"redirect_uris: .* must use https"):
        parse_client_metadata({**BASE, "redirect_uris": [uri]}, dev_mode=False)


@pytest.mark.parametrize("uri", [
    "https://portal.example\\@evil.example/cb",  # a browser reads the backslash as a slash
    'https://portal.example/cb"', "https://portal.example/c b", "https://portal.example/cb\x00",
    "https://portal.example/cb\r\n", "https://портал.example/cb",
])
def test_a_redirect_uri_with_characters_no_uri_has_is_refused(uri: str) -> None:
    """RFC 3986 2: parsers disagree about such strings, so none is registered (nor accepted at
    /authorize: tests/flows/test_bad_input.py)."""
    with pytest.raises(InvalidRedirectURIError, match="has characters a URI may not have"):
        parse_client_metadata({**BASE, "redirect_uris": [uri]}, dev_mode=True)


def test_defaults_of_rfc7591_and_campus_id() -> None:
    metadata = parse_client_metadata(dict(BASE), dev_mode=False)
    assert metadata.token_endpoint_auth_method == "client_secret_basic" and not metadata.public
    assert metadata.grant_types == ("authorization_code",)
    assert metadata.response_types == ("code",)
    assert metadata.scopes == ("openid", "profile", "email", "campus")
    assert metadata.id_token_signed_response_alg == "RS256"
    assert metadata.pkce_required


def test_public_clients_always_need_pkce() -> None:
    metadata = parse_client_metadata({**BASE, "token_endpoint_auth_method": "none"}, dev_mode=False)
    assert metadata.public and metadata.pkce_required


def test_moodle_profile_presets_and_request_overrides() -> None:
    moodle = {"client_name": "Moodle", "campus_profile": "moodle",
              "redirect_uris": ["https://moodle.example/admin/oauth2callback.php"]}
    metadata = parse_client_metadata(moodle, dev_mode=False)
    assert metadata.token_endpoint_auth_method == "client_secret_post"
    assert not metadata.pkce_required
    assert metadata.extra["campus_profile"] == "moodle"
    basic = parse_client_metadata({**moodle, "token_endpoint_auth_method": "client_secret_basic"},
                                  dev_mode=False)
    assert basic.token_endpoint_auth_method == "client_secret_basic"


def test_unknown_fields_are_neither_refused_nor_kept() -> None:
    metadata = parse_client_metadata({**BASE, "x-vendor": {"a": 1}, "jwks_uri": "https://k"},
                                     dev_mode=False)
    assert "x-vendor" not in metadata.extra and "jwks_uri" not in metadata.extra


@pytest.mark.parametrize("body", [None, [], "text", 3])
def test_non_objects_are_invalid_metadata(body: object) -> None:
    with pytest.raises(InvalidClientMetadataError, match="JSON object"):
        parse_client_metadata(body, dev_mode=True)


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)),
    ("2w", timedelta(weeks=2)), (" 90s ", timedelta(seconds=90)),
])
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "0d", "-1d", "7 days", "1.5h", "7D", "1y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_a_refusal_repeats_the_value_sent_in_characters_an_error_may_hold() -> None:
    """RFC 6749 5.2: error_description holds %x20-21 / %x23-5B / %x5D-7E only (Authlib raises
    on anything else, which was a 500); the rest of what the client sent is percent-encoded."""
    with pytest.raises(InvalidRedirectURIError) as refused:
        parse_client_metadata({**BASE, "redirect_uris": ['https://ло"го.example/\udcff']},
                              dev_mode=False)
    text = refused.value.description
    assert "https://%D0%BB%D0%BE%22%D0%B3%D0%BE.example/%5Cudcff" in text
    assert not invalid_error_characters(text)
