"""A student logs in at a relying party: authorization code with PKCE, token, ID token and
UserInfo, single sign-on at a second relying party, for each directory schema."""

from __future__ import annotations

import re
import secrets
import threading
import time
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.oidc.grants import AuthenticatedUser  # noqa: F401 - the grant user type, imported for mypy
from idp.storage import audit
from tests.flows.conftest import RP1, RP2
from tests.support.oidc_client import RelyingParty, callback_params, follow, is_login_form, login, sign_in

LANG_SWITCH = re.compile(r'class="lang" href="([^"]+)"')

ISSUER = "https://id.campus.test"


def verify_id_token(browser: FlaskClient, rp: RelyingParty, token: str, nonce: str,
                    access_token: str, alg: str = "RS256") -> dict[str, Any]:
    keys = KeySet.import_key_set(browser.get("/jwks").json)
    decoded = jwt.decode(token, keys, algorithms=[alg])
    assert decoded.header["alg"] == alg and decoded.header["kid"]
    claims = decoded.claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": rp.client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        auth_time={"essential": True},
        at_hash={"essential": True},
    ).validate(claims)
    assert abs(claims["auth_time"] - time.time()) < 60
    return claims


def test_student_logs_in_and_relying_party_gets_standard_tokens(browser: FlaskClient) -> None:
    result = sign_in(browser, RP1, "asmirnova@tpu.ru", "Passw0rd-asmirnova")
    response = RP1.token(browser, result["code"])
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert "no-store" in response.headers["Cache-Control"]
    claims = verify_id_token(browser, RP1, body["id_token"], result["_nonce"], body["access_token"])
    assert claims["preferred_username"] == "asmirnova@tpu.ru"
    assert claims["family_name"] == "Смирнова" and claims["middle_name"] == "Сергеевна"

    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200
    assert info.json["sub"] == claims["sub"]
    assert info.json["email"] == "asmirnova@tpu.ru" and info.json["email_verified"] is True
    assert info.json["organizations"] == ["tpu"]
    assert info.json["affiliations"] == ["employee@tpu.ru", "member@tpu.ru", "staff@tpu.ru"]
    assert len(info.json["campus_id"]) == 9
    posted = browser.post("/userinfo", data={"access_token": body["access_token"]})
    assert posted.json == info.json


def test_second_relying_party_gets_a_code_without_the_password(browser: FlaskClient) -> None:
    first = sign_in(browser, RP1, "demo", "demo", organization="tpu")
    sub = RP1.token(browser, first["code"]).json
    params = RP2.params()
    response = browser.get("/authorize", query_string=params)
    assert response.status_code == 200 and "consent" in response.get_data(as_text=True)
    second = sign_in(browser, RP2, "", "")  # no login page appears: the session is reused
    tokens = RP2.token(browser, second["code"]).json
    claims = verify_id_token(browser, RP2, tokens["id_token"], second["_nonce"],
                             tokens["access_token"], alg="ES256")
    first_claims = jwt.decode(sub["id_token"], KeySet.import_key_set(browser.get("/jwks").json)).claims
    assert claims["sub"] == first_claims["sub"]
    assert claims["auth_time"] == first_claims["auth_time"]


def test_a_replayed_nonce_gets_no_code(browser: FlaskClient, app: Any) -> None:
    """A nonce a code was issued with is refused for that client: at once in a browser with a
    session, and after the login in one without (no code is issued in either)."""
    first = sign_in(browser, RP1, "demo", "demo", organization="tpu", nonce="once-only")
    assert first["code"]
    again = browser.get("/authorize", query_string=RP1.params(nonce="once-only"))
    refused = callback_params(again)
    assert refused["error"] == "invalid_request" and "code" not in refused

    other = app.test_client()
    response = other.get("/authorize", query_string=RP1.params(nonce="once-only"))
    assert is_login_form(response)  # nothing to check before a login
    response = follow(other, login(other, response, "asmirnova", "Passw0rd-asmirnova",
                                   "tpu"))
    refused = callback_params(response)
    assert refused["error"] == "invalid_request" and "code" not in refused
    assert sign_in(other, RP1, "", "", nonce="another")["code"]  # a new nonce is fine


def test_a_long_random_nonce_is_kept_and_still_checked(browser: FlaskClient) -> None:
    """Nonces are found by an index (a hash index on PostgreSQL, whose entries have no size
    limit, unlike a B-tree's 2,704 bytes): in a browser already signed in, a long one that
    does not compress gets its code, its ID token carries it whole, and it is refused the
    second time."""
    assert sign_in(browser, RP1, "asmirnova@tpu.ru", "Passw0rd-asmirnova")["code"]
    nonce = secrets.token_urlsafe(6000)  # 8,000 characters
    params = RP1.params(nonce=nonce)
    first = callback_params(browser.get("/authorize", query_string=params))
    response = RP1.token(browser, first["code"])
    assert response.status_code == 200, response.json
    tokens = response.json
    claims = verify_id_token(browser, RP1, tokens["id_token"], nonce, tokens["access_token"])
    assert claims["nonce"] == nonce
    again = callback_params(browser.get("/authorize", query_string=RP1.params(nonce=nonce)))
    assert again["error"] == "invalid_request" and "code" not in again


def test_a_code_redeemed_twice_at_once_gives_tokens_once(browser: FlaskClient, app: Any) -> None:
    """Two token requests with one code released together: exactly one gets tokens; the other
    is refused and revokes what the first got (RFC 6749 4.1.2)."""
    result = sign_in(browser, RP1, "demo", "demo", organization="tpu")
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def redeem() -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(RP1.token(client, result["code"]))

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 400]
    refused = next(a for a in answers if a.status_code == 400)
    assert refused.json["error"] == "invalid_grant"
    token = next(a for a in answers if a.status_code == 200).json["access_token"]
    assert browser.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 401


@pytest.mark.parametrize(("username", "organization", "expected"), [
    ("demo", "tusur", {"preferred_username": "demo@tusur.ru"}),
    ("demo@tusur.ru", "", {"preferred_username": "demo@tusur.ru"}),
    ("ivan.petrov", "tsu", {"affiliations": ["faculty@tsu.ru", "staff@tsu.ru"]}),
    ("kirill.sorokin@tsu.ru", "", {"organizations": ["tsu"]}),
])
def test_each_directory_schema(browser: FlaskClient, username: str, organization: str,
                               expected: dict[str, Any]) -> None:
    from demo.people import organization as demo_org

    org_id = organization or username.rsplit("@", 1)[1].split(".")[0]
    person = demo_org(org_id).person(username.split("@")[0])
    result = sign_in(browser, RP1, username, person.password, organization=organization)
    token = RP1.token(browser, result["code"]).json["access_token"]
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).json
    for key, value in expected.items():
        assert info[key] == value
    assert info["family_name"] == person.family_name


def test_same_account_keeps_its_sub_and_campus_id(browser: FlaskClient, app: Any) -> None:
    subs = set()
    for _ in range(2):
        result = sign_in(browser, RP1, "demo@tpu.ru", "demo")
        token = RP1.token(browser, result["code"]).json["access_token"]
        info = browser.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).json
        subs.add((info["sub"], info["campus_id"]))
        browser.post("/logout", data={"csrf_token": _csrf(browser)})
    assert len(subs) == 1
    with app.app_context():
        from idp import context

        kinds = [e.type for e in audit.events(context.db())]
    assert kinds.count("login.succeeded") == 2 and kinds.count("identity.created") == 1


def _csrf(browser: FlaskClient) -> str:
    from tests.support.oidc_client import csrf_of

    return csrf_of(browser.get("/"))


def test_login_page_offers_organizations_in_both_languages(browser: FlaskClient) -> None:
    params = RP1.params()
    page = browser.get("/authorize", query_string=params)  # the form, at the request itself
    html = page.get_data(as_text=True)
    assert 'lang="ru"' in html and "Томский политехнический университет" in html
    assert 'for="username"' in html and 'for="password"' in html and 'for="organization"' in html
    assert "«Библиотека ТГУ»" in html
    english = browser.get("/authorize", query_string=params, headers={"Accept-Language": "en-GB,en"})
    assert "Log in with your university account" in english.get_data(as_text=True)
    assert "Tomsk Polytechnic University" in english.get_data(as_text=True)
    # The page's own language switch shows the same request in English; a login from there
    # goes on with it (the switch's lang is no parameter of the request: consent comes next).
    switch = LANG_SWITCH.search(html)
    assert switch
    link = urlsplit(unescape(switch.group(1)))
    assert link.path == "/authorize"
    assert parse_qs(link.query) == {**{k: [v] for k, v in params.items()}, "lang": ["en"]}
    switched = browser.get(unescape(switch.group(1)))
    assert "Log in with your university account" in switched.get_data(as_text=True)
    wrong = login(browser, page, "demo@tpu.ru", "not-the-password")
    assert wrong.status_code == 401
    to_consent = login(browser, switched, "demo@tpu.ru", "demo")
    assert to_consent.status_code == 302 and "lang=" not in to_consent.headers["Location"]
    assert "Allow access" in follow(browser, to_consent).get_data(as_text=True)
