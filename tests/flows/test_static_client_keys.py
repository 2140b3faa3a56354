"""Clients of the configuration file that authenticate with private_key_jwt (their keys given
inline) and that see pairwise subjects, end to end: the file's keys are the only way in at
/token, and a pairwise client's ``sub`` is its sector's, not the public one."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from demo.slapd import SlapdServer
from idp.settings import Settings
from idp.storage.clients import find_client
from tests.flows.conftest import RP1, make_settings
from tests.support.client_keys import assertion_form, make_key, public_jwks
from tests.support.oidc_client import RelyingParty, sign_in

USER, PASSWORD = "asmirnova@tpu.ru", "Passw0rd-asmirnova"
KEY = make_key("ES256", kid="library-2025")
LIBRARY = RelyingParty("library-portal", "https://library.tpu.example/callback", scope="openid profile")
SPORTS = RelyingParty("sports", "https://sports.tsu.example/cb",
                      secret="sports-secret-0123456789", scope="openid profile")
# Two hosts, one sector named by sector_identifier_uri; and a client of that sector's host.
PORTAL = RelyingParty("portal-two-hosts", "https://b.portal.tsu.example/cb",
                      secret="portal-two-hosts-secret-0123", scope="openid profile")
PORTAL_HOME = RelyingParty("portal-home", "https://portal.tsu.example/cb",
                           secret="portal-home-secret-0123456", scope="openid profile")


def pairwise(rp: RelyingParty, *more_uris: str, **extra: Any) -> dict[str, Any]:
    return {"name": rp.client_id, "redirect_uris": [rp.redirect_uri, *more_uris],
            "client_secret": rp.secret, "scopes": ["openid", "profile"],
            "subject_type": "pairwise", **extra}


@pytest.fixture
def settings(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Settings:
    clients = {
        LIBRARY.client_id: {"name": "Library portal", "redirect_uris": [LIBRARY.redirect_uri],
                            "scopes": ["openid", "profile"],
                            "token_endpoint_auth_method": "private_key_jwt",
                            "jwks": public_jwks(KEY)},
        SPORTS.client_id: pairwise(SPORTS),
        PORTAL.client_id: pairwise(PORTAL, "https://a.portal-mirror.example/cb",
                                   sector_identifier_uri="https://portal.tsu.example/sector.json"),
        PORTAL_HOME.client_id: pairwise(PORTAL_HOME),
    }
    return make_settings(migrated_database_url, directories, clients=clients)


def sub_of(response: Any) -> str:
    payload = response.json["id_token"].split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def test_a_static_client_authenticates_with_private_key_jwt(app: Flask, browser: FlaskClient) -> None:
    with app.extensions["campus_id"].sessions() as db:
        stored = find_client(db, LIBRARY.client_id)
        assert stored is not None and stored.secret_hash is None
        assert stored.token_endpoint_auth_method == "private_key_jwt"
    code = sign_in(browser, LIBRARY, USER, PASSWORD)["code"]
    response = LIBRARY.token(browser, code, **assertion_form(KEY, LIBRARY.client_id))
    assert response.status_code == 200, response.json
    assert response.json["id_token"] and response.json["access_token"]
    # A key that is not in the file does not get in, nor does a secret.
    stranger = make_key("ES256", kid=KEY.kid)
    code = sign_in(browser, LIBRARY, USER, PASSWORD)["code"]
    refused = LIBRARY.token(browser, code, **assertion_form(stranger, LIBRARY.client_id))
    assert refused.status_code in (400, 401) and refused.json["error"] == "invalid_client"
    guessed = browser.post("/token", data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": LIBRARY.redirect_uri,
                                           "code_verifier": LIBRARY.verifier},
                           auth=(LIBRARY.client_id, "x" * 20))
    assert guessed.status_code in (400, 401) and guessed.json["error"] == "invalid_client"


def test_a_pairwise_static_client_sees_a_sub_of_its_own(app: Flask, browser: FlaskClient) -> None:
    seen = {}
    for rp in (RP1, SPORTS, PORTAL, PORTAL_HOME):
        tokens = rp.token(browser, sign_in(browser, rp, USER, PASSWORD)["code"])
        assert tokens.status_code == 200, tokens.json
        userinfo = browser.get("/userinfo",
                               headers={"Authorization": f"Bearer {tokens.json['access_token']}"})
        assert userinfo.json["sub"] == sub_of(tokens)
        seen[rp.client_id] = sub_of(tokens)
    public = seen[RP1.client_id]
    assert seen[SPORTS.client_id] != public and seen[PORTAL.client_id] != public
    assert seen[SPORTS.client_id] != seen[PORTAL.client_id]
    # The sector of sector_identifier_uri is its host: the same sub as that host's own client.
    assert seen[PORTAL.client_id] == seen[PORTAL_HOME.client_id]
    again = SPORTS.token(browser, sign_in(browser, SPORTS, USER, PASSWORD)["code"])
    assert sub_of(again) == seen[SPORTS.client_id]
