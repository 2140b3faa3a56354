"""Pushed authorization requests (RFC 9126): a client pushes its request, authenticated, and
sends the browser with only ``client_id`` and ``request_uri``; the request_uri lives a minute,
works once, and only for the client that pushed it. Bad pushes are answered as JSON."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from idp.storage.base import utcnow
from idp.storage.pushed_requests import REQUEST_URI_PREFIX, PushedRequest
from tests.flows.conftest import RP1, RP2, SPA
from tests.support.client_keys import assertion_form, make_key, public_jwks, request_object
from tests.support.front_channel import authorize
from tests.support.oidc_client import RelyingParty
from tests.support.registration import initial_token, register, valid_metadata


def push(browser: FlaskClient, rp: RelyingParty, **extra: Any) -> Any:
    auth = (rp.client_id, rp.secret) if rp.secret else None
    data = {**rp.params(), **extra}
    return browser.post("/par", data={k: v for k, v in data.items() if v is not None}, auth=auth)


def callback(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_a_pushed_request_logs_in_once(app: Flask, browser: FlaskClient) -> None:
    pushed = push(browser, RP1, state="pushed-state")
    assert pushed.status_code == 201, pushed.json
    assert pushed.headers["Cache-Control"] == "no-store"
    request_uri = pushed.json["request_uri"]
    assert request_uri.startswith(REQUEST_URI_PREFIX) and pushed.json["expires_in"] == 60
    query = {"client_id": RP1.client_id, "request_uri": request_uri}
    result = callback(authorize(browser, query))
    assert result["state"] == "pushed-state"
    assert RP1.token(browser, result["code"]).status_code == 200
    again = app.test_client().get("/authorize", query_string=query)  # another browser
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)


def test_a_request_uri_is_for_the_client_that_pushed_it(app: Flask, browser: FlaskClient) -> None:
    request_uri = push(browser, RP1).json["request_uri"]
    response = browser.get("/authorize", query_string={"client_id": RP2.client_id,
                                                       "request_uri": request_uri})
    assert response.status_code == 400 and "unknown to this client" in response.get_data(as_text=True)
    # ...and was not spent by that attempt.
    assert callback(authorize(browser, {"client_id": RP1.client_id, "request_uri": request_uri}))


def test_an_expired_request_uri_is_refused(app: Flask, browser: FlaskClient) -> None:
    request_uri = push(browser, RP1).json["request_uri"]
    with app.extensions["campus_id"].sessions() as db:
        db.execute(update(PushedRequest).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    response = browser.get("/authorize", query_string={"client_id": RP1.client_id,
                                                       "request_uri": request_uri})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_made_up_request_uris_are_refused(browser: FlaskClient) -> None:
    for value in (REQUEST_URI_PREFIX + "guess", "https://rp1.example.org/request.jwt", ""):
        response = browser.get("/authorize", query_string={"client_id": RP1.client_id,
                                                           "request_uri": value})
        assert response.status_code == 400, value


def test_a_push_needs_client_authentication(browser: FlaskClient) -> None:
    response = browser.post("/par", data=RP1.params())
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
    wrong = browser.post("/par", data=RP1.params(), auth=(RP1.client_id, "wrong-secret-000000"))
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"


def test_a_bad_push_is_answered_as_json_and_stores_nothing(app: Flask, browser: FlaskClient) -> None:
    cases = [({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
             ({"response_type": "token"}, "unsupported_response_type"),
             ({"code_challenge": None}, "invalid_request"),
             ({"request_uri": REQUEST_URI_PREFIX + "x"}, "invalid_request"),
             ({"client_id": RP2.client_id}, "invalid_request")]
    for extra, error in cases:
        response = push(browser, RP1, **extra)
        assert response.status_code == 400, (extra, response.json)
        assert response.json["error"] == error, extra
        assert "Location" not in response.headers
    with app.extensions["campus_id"].sessions() as db:
        assert db.query(PushedRequest).count() == 0


def test_a_public_client_may_push_with_pkce(browser: FlaskClient) -> None:
    pushed = push(browser, SPA, client_id=SPA.client_id)
    assert pushed.status_code == 201, pushed.json
    result = callback(authorize(browser, {"client_id": SPA.client_id,
                                          "request_uri": pushed.json["request_uri"]}))
    assert SPA.token(browser, result["code"]).status_code == 200


def register_pushing_client(app: Flask, browser: FlaskClient, key: Any) -> RelyingParty:
    response = register(browser, initial_token(app), valid_metadata(
        token_endpoint_auth_method="private_key_jwt", jwks=public_jwks(key),
        request_object_signing_alg="ES256", require_pushed_authorization_requests=True))
    assert response.status_code == 201, response.json
    return RelyingParty(response.json["client_id"], response.json["redirect_uris"][0],
                        scope="openid profile")


def test_a_client_that_must_push_cannot_send_the_request_in_the_url(
        app: Flask, browser: FlaskClient) -> None:
    rp = register_pushing_client(app, browser, make_key())
    response = browser.get("/authorize", query_string=rp.params())
    assert response.status_code == 400
    assert "must push its authorization requests" in response.get_data(as_text=True)


def test_a_signed_request_object_pushed_with_private_key_jwt(app: Flask, browser: FlaskClient) -> None:
    key = make_key("ES256")
    rp = register_pushing_client(app, browser, key)
    signed = request_object(key, rp.client_id, rp.params(state="from-the-object"))
    pushed = browser.post("/par", data={"client_id": rp.client_id, "request": signed,
                                        **assertion_form(key, rp.client_id)})
    assert pushed.status_code == 201, pushed.json
    result = callback(authorize(browser, {"client_id": rp.client_id,
                                          "request_uri": pushed.json["request_uri"]}))
    assert result["state"] == "from-the-object"
    tokens = browser.post("/token", data={
        "grant_type": "authorization_code", "code": result["code"], "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier, **assertion_form(key, rp.client_id)})
    assert tokens.status_code == 200, tokens.json
    tampered = signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB")
    refused = browser.post("/par", data={"client_id": rp.client_id, "request": tampered,
                                         **assertion_form(key, rp.client_id)})
    assert refused.status_code == 400 and refused.json["error"] == "invalid_request_object"
