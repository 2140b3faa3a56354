"""Issue 5's "Done when", end to end: an org_admin of tsu registers one Moodle-profile client in
the admin UI and another through DCR with an initial access token of tsu made in the same UI,
narrows the release policy for tsu's people, and a login through each client, done the way
Moodle's auth_oauth2 does it (no PKCE, no nonce, client_secret_post, then UserInfo), gets
exactly the released claims, in UserInfo and in the ID token alike."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.flows.test_admin_ui import (  # noqa: F401 (fixtures)
    admin_app,
    admin_settings,
    create_moodle,
    pw,
    staff_browser,
)
from tests.flows.test_attribute_release import person_claims
from tests.support.admin import post_form
from tests.support.oidc_client import RelyingParty, sign_in
from tests.support.registration import register

DCR_CALLBACK = "https://moodle2.tsu.example.org/admin/oauth2callback.php"
UI_CALLBACK = "https://moodle.tsu.example.org/admin/oauth2callback.php"
NARROWED = ["campus_id", "email", "name"]
# email_verified travels with email; sub always.
RELEASED = {"campus_id", "email", "email_verified", "name"}
TOKEN_VALUE = re.compile(r'id="token-value" class="secret" value="([^"]+)"')


def token_from_the_ui(staff: FlaskClient) -> str:
    page = staff.get("/admin/tokens")
    response = post_form(staff, page, "/admin/tokens",
                         {"organization": "tsu", "expires_in": "1d", "max_uses": "1"})
    assert response.status_code == 200
    found = TOKEN_VALUE.search(response.get_data(as_text=True))
    assert found
    return found.group(1)


def registered_through_dcr(staff: FlaskClient, browser: FlaskClient) -> tuple[str, str]:
    response = register(browser, token_from_the_ui(staff), {
        "client_name": "Moodle ТГУ (DCR)", "campus_profile": "moodle",
        "redirect_uris": [DCR_CALLBACK]})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["campus_organization"] == "tsu"
    assert body["token_endpoint_auth_method"] == "client_secret_post"
    return body["client_id"], body["client_secret"]


def narrow(staff: FlaskClient, client_id: str) -> None:
    path = f"/admin/clients/{client_id}/release"
    response = post_form(staff, staff.get(path), path,
                         {"level": "tsu", "restrict": "on", "claim": NARROWED})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def moodle_login(app: Flask, client_id: str, secret: str, callback: str, org: str,
                 username: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """UserInfo and the (decoded) ID token of one login done as Moodle does it."""
    person = app.test_client()
    moodle = RelyingParty(client_id, callback)
    result = sign_in(person, moodle, username, pw(org, username), org,
                     code_challenge=None, code_challenge_method=None, nonce=None)
    tokens = person.post("/token", data={
        "grant_type": "authorization_code", "code": result["code"], "redirect_uri": callback,
        "client_id": client_id, "client_secret": secret})
    assert tokens.status_code == 200, tokens.json
    info = person.get("/userinfo",
                      headers={"Authorization": f"Bearer {tokens.json['access_token']}"})
    assert info.status_code == 200
    keys = KeySet.import_key_set(person.get("/jwks").json)
    id_token = dict(jwt.decode(tokens.json["id_token"], keys).claims)
    assert id_token["sub"] == info.json["sub"]
    return dict(info.json), id_token


@pytest.mark.parametrize("registered_in", ["admin UI", "DCR"])
def test_an_org_admins_moodle_client_gets_exactly_the_released_claims(
        admin_app: Flask, registered_in: str) -> None:  # noqa: F811
    staff, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    if registered_in == "admin UI":
        client_id, secret = create_moodle(staff)
        callback = UI_CALLBACK
    else:
        client_id, secret = registered_through_dcr(staff, admin_app.test_client())
        callback = DCR_CALLBACK
    assert client_id in staff.get("/admin/clients").get_data(as_text=True)

    info, id_token = moodle_login(admin_app, client_id, secret, callback, "tsu", "olga.kozlova")
    assert "affiliations" in info and "given_name" in info  # before: the consortium default

    narrow(staff, client_id)
    info, id_token = moodle_login(admin_app, client_id, secret, callback, "tsu", "olga.kozlova")
    assert set(info) == RELEASED | {"sub"}
    assert person_claims(id_token) == RELEASED
    assert info["email"] and info["name"] and info["campus_id"].isdigit()  # what Moodle maps

    # The narrowing is tsu's, for tsu's people only: a person of tpu still gets the default.
    info, _ = moodle_login(admin_app, client_id, secret, callback, "tpu", "asmirnova")
    assert "affiliations" in info and "given_name" in info
