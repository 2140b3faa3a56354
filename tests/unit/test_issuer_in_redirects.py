"""Every redirect names the issuer (RFC 9207 2): ``CampusAuthorizationServer.with_issuer`` appends
it to a query Authlib already encoded, and must give what Authlib's ``add_params_to_uri`` gives
when it decodes and encodes that query once more."""

from __future__ import annotations

import pytest
from authlib.common.urls import add_params_to_uri

from idp.oidc.server import CampusAuthorizationServer

REDIRECT_URIS = [
    "https://rp.example.org/cb",
    "https://rp.example.org/cb?",
    "https://rp.example.org/cb?a=1&b=",
    "https://rp.example.org/cb?a=1;b=2&c",
    "https://rp.example.org/cb?x=%20y+z&x=again",
    "https://rp.example.org/обратно?q=ё&e=%E2%82%AC",
    "https://rp.example.org/cb;p?k=v",
    "http://127.0.0.1:8080/callback?next=/a/b?c=d",
    "com.example.app:/oauth2redirect",
    "https://rp.example.org/cb#fragment",
]
PARAMS = [
    [("code", "Abc123"), ("state", "s")],
    [("code", "x"), ("state", "a b&c=d;e+f%g'h\"")],
    [("error", "invalid_request"), ("error_description", "The redirect_uri: nope (RFC 6749).")],
    [("error", "access_denied"), ("state", "ёлка")],
]
ISSUERS = ["https://id.campus.test", "https://id.campus.test/путь и пробел"]


@pytest.mark.parametrize("issuer", ISSUERS)
@pytest.mark.parametrize("redirect_uri", REDIRECT_URIS)
@pytest.mark.parametrize("params", PARAMS)
def test_the_issuer_is_appended_as_authlib_would_add_it(
        issuer: str, redirect_uri: str, params: list[tuple[str, str]]) -> None:
    server = CampusAuthorizationServer()
    server.issuer = issuer
    location = add_params_to_uri(redirect_uri, params)  # as Authlib makes every redirect
    assert server.with_issuer(location) == add_params_to_uri(location, [("iss", issuer)])


@pytest.mark.parametrize("redirect_uri", REDIRECT_URIS)
def test_a_response_in_the_fragment_takes_authlibs_way(redirect_uri: str) -> None:
    server = CampusAuthorizationServer()
    server.issuer = ISSUERS[1]
    location = add_params_to_uri(redirect_uri, PARAMS[1], fragment=True)
    assert server.with_issuer(location) == add_params_to_uri(location, [("iss", server.issuer)])
