"""A client of the ``moodle`` profile logs in the way Moodle's core OAuth 2 login does: no
PKCE, no nonce, the secret in the token request body, every attribute from UserInfo. Whether
it was registered through DCR or with `idp clients create --profile moodle`."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp.admin.registry import create_client
from idp.oidc.profiles import MOODLE
from idp.settings import PkcePolicy
from tests.support.oidc_client import RelyingParty, sign_in
from tests.support.registration import initial_token, register

CALLBACK = "https://moodle.tpu.example/admin/oauth2callback.php"


def registered_through_dcr(app: Flask, browser: FlaskClient) -> tuple[str, str]:
    response = register(browser, initial_token(app), {
        "client_name": "Moodle ТПУ", "campus_profile": "moodle", "redirect_uris": [CALLBACK]})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["token_endpoint_auth_method"] == "client_secret_post"
    assert body["scope"] == "openid profile email campus"
    assert body["grant_types"] == ["authorization_code"]
    assert body["campus_profile"] == "moodle"
    return body["client_id"], body["client_secret"]


def created_with_the_cli_service(app: Flask, _browser: FlaskClient) -> tuple[str, str]:
    with app.extensions["campus_id"].sessions() as db:
        created = create_client(db, name="Moodle ТПУ", redirect_uris=[CALLBACK],
                                pkce=PkcePolicy.REQUIRED, profile=MOODLE, dev_mode=True)
        db.commit()
    assert created.client_secret is not None
    return created.client_id, created.client_secret


@pytest.mark.parametrize("make_client", [registered_through_dcr, created_with_the_cli_service])
def test_moodle_logs_in_without_pkce_or_nonce_and_reads_userinfo(
        app: Flask, browser: FlaskClient, make_client: object) -> None:
    client_id, secret = make_client(app, browser)  # type: ignore[operator]
    moodle = RelyingParty(client_id, CALLBACK, secret=secret)
    result = sign_in(browser, moodle, "asmirnova@tpu.ru", "Passw0rd-asmirnova",
                     code_challenge=None, code_challenge_method=None, nonce=None)

    basic = browser.post("/token", auth=(client_id, secret), data={
        "grant_type": "authorization_code", "code": result["code"], "redirect_uri": CALLBACK})
    assert basic.status_code == 401  # registered for client_secret_post only

    result = sign_in(browser, moodle, "asmirnova@tpu.ru", "Passw0rd-asmirnova",
                     code_challenge=None, code_challenge_method=None, nonce=None)
    tokens = browser.post("/token", data={
        "grant_type": "authorization_code", "code": result["code"], "redirect_uri": CALLBACK,
        "client_id": client_id, "client_secret": secret})
    assert tokens.status_code == 200, tokens.json
    assert "refresh_token" not in tokens.json

    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens.json['access_token']}"})
    assert info.status_code == 200
    # What docs/moodle.md maps: campus_id -> username, and the email Moodle insists on.
    assert len(info.json["campus_id"]) == 9 and info.json["campus_id"].isdigit()
    assert info.json["email"] == "asmirnova@tpu.ru"
    assert info.json["given_name"] and info.json["family_name"] == "Смирнова"


def test_a_moodle_client_that_sends_pkce_anyway_must_then_complete_it(
        app: Flask, browser: FlaskClient) -> None:
    client_id, secret = registered_through_dcr(app, browser)
    moodle = RelyingParty(client_id, CALLBACK, secret=secret)
    result = sign_in(browser, moodle, "asmirnova@tpu.ru", "Passw0rd-asmirnova")
    no_verifier = browser.post("/token", data={
        "grant_type": "authorization_code", "code": result["code"], "redirect_uri": CALLBACK,
        "client_id": client_id, "client_secret": secret})
    assert no_verifier.status_code == 400
