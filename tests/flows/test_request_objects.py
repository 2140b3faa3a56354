"""Signed request objects at /authorize (OpenID Connect Core 6.1, RFC 9101): the parameters
inside a request object signed with the client's registered key are the request; anything not
exactly right (tampered, unsigned, another algorithm or key, another audience, issuer or
client, expired) is an error page and never a redirect."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.client_keys import ISSUER, make_key, public_jwks, request_object
from tests.support.front_channel import authorize
from tests.support.oidc_client import RelyingParty, is_login_form
from tests.support.registration import initial_token, register, valid_metadata

KEY = make_key("ES256", kid="rp-1")


@pytest.fixture
def rp(app: Flask, browser: FlaskClient) -> RelyingParty:
    response = register(browser, initial_token(app), valid_metadata(
        jwks=public_jwks(KEY), request_object_signing_alg="ES256", scope="openid profile"))
    assert response.status_code == 201, response.json
    return RelyingParty(response.json["client_id"], response.json["redirect_uris"][0],
                        secret=response.json["client_secret"], scope="openid profile")


def test_the_request_object_is_the_request(browser: FlaskClient, rp: RelyingParty) -> None:
    signed = request_object(KEY, rp.client_id, rp.params(state="inside"))
    # Parameters outside the object do not count (RFC 9101 5).
    response = authorize(browser, {"client_id": rp.client_id, "request": signed,
                                   "state": "outside", "scope": "openid email"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    result = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    assert result["state"] == "inside"
    token = rp.token(browser, result["code"])
    assert token.status_code == 200 and token.json["scope"] == "openid profile"


def refused(browser: FlaskClient, client_id: str, signed: str, text: str) -> None:
    response = browser.get("/authorize", query_string={"client_id": client_id, "request": signed})
    assert response.status_code == 400, response.headers.get("Location")
    assert text in response.get_data(as_text=True)


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("wrong audience", {"aud": "https://other.example"}, "aud must be this provider"),
    ("wrong issuer", {"iss": "someone"}, "iss must be the client_id"),
    ("other client", {"client_id": "rp1"}, "client_id must be"),
    ("expired", {"exp": 1_600_000_000}, "expired"),
    ("no exp", {"exp": None}, "no exp"),
    ("far exp", {"exp": 4_000_000_000}, "seconds ahead"),
    ("nested request_uri", {"request_uri": "urn:x"}, "must not contain"),
]


@pytest.mark.parametrize(("changes", "text"), [pytest.param(c, t, id=n) for n, c, t in CASES])
def test_wrong_claims_are_refused(browser: FlaskClient, rp: RelyingParty,
                                  changes: dict[str, Any], text: str) -> None:
    refused(browser, rp.client_id, request_object(KEY, rp.client_id, rp.params(), **changes), text)


def test_tampering_keys_and_algorithms(browser: FlaskClient, rp: RelyingParty) -> None:
    signed = request_object(KEY, rp.client_id, rp.params())
    header, _, signature = signed.split(".")
    other = request_object(KEY, rp.client_id, rp.params(redirect_uri=ISSUER + "/elsewhere"))
    refused(browser, rp.client_id, f"{header}.{other.split('.')[1]}.{signature}", "signature")
    refused(browser, rp.client_id, request_object(None, rp.client_id, rp.params()), "signed with one of")
    refused(browser, rp.client_id, request_object(make_key("ES256", kid="rp-1"), rp.client_id,
                                                  rp.params()), "signature")
    refused(browser, rp.client_id, request_object(make_key("RS256"), rp.client_id, rp.params()),
            "signs its request objects with ES256")
    refused(browser, rp.client_id, "not.a.jwt", "not a signed JWT")


def test_request_and_request_uri_together_are_refused(browser: FlaskClient, rp: RelyingParty) -> None:
    response = browser.get("/authorize", query_string={
        "client_id": rp.client_id, "request": request_object(KEY, rp.client_id, rp.params()),
        "request_uri": "urn:ietf:params:oauth:request_uri:x"})
    assert response.status_code == 400 and "not both" in response.get_data(as_text=True)


def test_a_client_without_keys_cannot_send_request_objects(browser: FlaskClient) -> None:
    from tests.flows.conftest import RP1

    response = browser.get("/authorize", query_string={
        "client_id": RP1.client_id, "request": request_object(KEY, RP1.client_id, RP1.params())})
    assert response.status_code == 400 and "no keys" in response.get_data(as_text=True)


def test_the_request_object_may_expire_while_the_person_logs_in(
        app: Flask, browser: FlaskClient, rp: RelyingParty, monkeypatch: pytest.MonkeyPatch) -> None:
    """oauth4webapi gives its objects a minute: the browser that brought a valid one finishes
    its login with it; anyone else presenting it afterwards is refused."""
    import time

    from idp.oidc import request_objects
    from tests.support.oidc_client import follow, login

    query = {"client_id": rp.client_id,
             "request": request_object(KEY, rp.client_id, rp.params(state="slow"))}
    to_login = browser.get("/authorize", query_string=query)
    assert is_login_form(to_login)
    later = time.time() + 600
    monkeypatch.setattr(request_objects.time, "time", lambda: later)
    response = follow(browser, login(browser, to_login,
                                     "asmirnova@tpu.ru", "Passw0rd-asmirnova"))
    if response.status_code == 200:  # the consent page, posted back with the same query
        response = authorize(browser, query)
    assert response.status_code == 302 and "state=slow" in response.headers["Location"]
    stranger = app.test_client().get("/authorize", query_string=query)
    assert stranger.status_code == 400 and "expired" in stranger.get_data(as_text=True)
