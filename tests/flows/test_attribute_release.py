"""Attribute release end to end: a client's release policy decides which claims reach its ID
token and its UserInfo (both, the same), an organization's narrowing reaches only that
organization's people, and the consent page lists exactly what will be released, with the
relying party's logo, privacy policy and terms."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from demo.people import LIBRARY_TERMS
from demo.slapd import SlapdServer
from idp.admin.release import change_release
from idp.app import create_app
from idp.errors import ConfigError
from idp.settings import Settings
from idp.storage import audit
from idp.storage.clients import find_client
from idp.storage.release import policies_of
from tests.flows.conftest import RP1, RP2, client_table, make_settings
from tests.support.oidc_client import RelyingParty, callback_params, follow, login, sign_in
from tests.support.registration import initial_token, register

PERSON_CLAIMS = {"name", "given_name", "family_name", "middle_name", "preferred_username",
                 "locale", "email", "email_verified", "campus_id", "affiliations",
                 "entitlements", "organizations"}
PROTOCOL_CLAIMS = {"iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "amr", "acr",
                   "azp"}


def set_release(app: Flask, client_id: str, claims: list[str] | None, organization: str = "") -> None:
    with app.extensions["campus_id"].sessions() as db:
        client = find_client(db, client_id)
        assert client is not None
        change_release(db, client, claims, organizations=["tpu", "tsu", "tusur"],
                       organization=organization, actor="test")
        db.commit()


def id_token_and_userinfo(browser: FlaskClient, rp: RelyingParty, username: str,
                          password: str) -> tuple[dict[str, Any], dict[str, Any]]:
    result = sign_in(browser, rp, username, password)
    tokens = rp.token(browser, result["code"]).json
    keys = KeySet.import_key_set(browser.get("/jwks").json)
    id_token = dict(jwt.decode(tokens["id_token"], keys).claims)
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    return id_token, dict(info.json)


def person_claims(claims: dict[str, Any]) -> set[str]:
    return set(claims) - PROTOCOL_CLAIMS - {"sub"}


def test_without_a_policy_every_claim_of_the_granted_scopes_is_released(
        app: Flask, browser: FlaskClient) -> None:
    id_token, info = id_token_and_userinfo(browser, RP1, "demo@tpu.ru", "demo")
    assert person_claims(info) == PERSON_CLAIMS
    assert person_claims(id_token) == PERSON_CLAIMS
    assert info["entitlements"] == [LIBRARY_TERMS]  # from eduPersonEntitlement in the directory


def test_a_narrowed_client_gets_exactly_the_released_claims(app: Flask, browser: FlaskClient) -> None:
    set_release(app, RP1.client_id, ["name", "email", "entitlements"])
    id_token, info = id_token_and_userinfo(browser, RP1, "demo@tpu.ru", "demo")
    released = {"name", "email", "email_verified", "entitlements"}
    assert person_claims(id_token) == released
    assert person_claims(info) == released
    assert id_token["sub"] == info["sub"]
    assert info["entitlements"] == [LIBRARY_TERMS]
    for absent in ("campus_id", "given_name", "affiliations", "preferred_username"):
        assert absent not in id_token and absent not in info


def test_an_organization_narrows_only_for_its_own_people(app: Flask, browser: FlaskClient) -> None:
    set_release(app, RP1.client_id, ["email", "campus_id"], organization="tpu")
    id_token, info = id_token_and_userinfo(browser, RP1, "demo@tpu.ru", "demo")
    assert person_claims(id_token) == person_claims(info) == {"email", "email_verified", "campus_id"}

    other = app.test_client()
    id_token, info = id_token_and_userinfo(other, RelyingParty(RP1.client_id, RP1.redirect_uri,
                                                               secret=RP1.secret),
                                           "demo@tsu.ru", "demo")
    assert "name" in info and "affiliations" in info and "name" in id_token  # tsu: not narrowed


def test_an_empty_policy_releases_only_the_subject(app: Flask, browser: FlaskClient) -> None:
    set_release(app, RP1.client_id, [])
    id_token, info = id_token_and_userinfo(browser, RP1, "demo@tpu.ru", "demo")
    assert person_claims(id_token) == set() and set(info) == {"sub"}


def consent_page(browser: FlaskClient, rp: RelyingParty, username: str, password: str) -> Any:
    response = browser.get("/authorize", query_string=rp.params())
    page = follow(browser, login(browser, response, username, password))
    assert page.status_code == 200
    return page


def listed(page: Any) -> list[str]:
    return re.findall(r'data-claim="([a-z_]+)"', page.get_data(as_text=True))


def test_the_consent_page_lists_exactly_the_released_attributes(
        app: Flask, browser: FlaskClient) -> None:
    set_release(app, RP1.client_id, ["name", "email", "campus_id", "given_name"])
    set_release(app, RP1.client_id, ["email", "campus_id"], organization="tpu")
    page = consent_page(browser, RP1, "demo@tpu.ru", "demo")
    assert listed(page) == ["sub", "email", "campus_id"]
    html = page.get_data(as_text=True)
    assert "Ваш адрес электронной почты" in html and "Номер вашей кампусной карты" in html
    assert "Ваши фамилия, имя и отчество" not in html

    english = app.test_client()
    english.set_cookie("lang", "en")
    page = consent_page(english, RP1, "demo@tsu.ru", "demo")
    assert listed(page) == ["sub", "name", "given_name", "email", "campus_id"]
    assert "Your full name" in page.get_data(as_text=True)


def test_the_consent_page_shows_the_logo_policy_and_terms(app: Flask, browser: FlaskClient) -> None:
    response = register(browser, initial_token(app), {
        "client_name": "Library portal", "client_name#ru": "Портал библиотеки",
        "redirect_uris": ["https://library.tpu.example/callback"],
        "logo_uri": "https://static.library.tpu.example/logo.png",
        "policy_uri": "https://library.tpu.example/privacy",
        "policy_uri#en": "https://library.tpu.example/en/privacy",
        "tos_uri": "https://library.tpu.example/terms"})
    assert response.status_code == 201, response.json
    body = response.json
    rp = RelyingParty(body["client_id"], "https://library.tpu.example/callback",
                      secret=body["client_secret"])
    page = consent_page(browser, rp, "asmirnova@tpu.ru", "Passw0rd-asmirnova")
    html = page.get_data(as_text=True)
    assert "«Портал библиотеки» запрашивает доступ" in html
    assert ('<img class="rp-logo" src="https://static.library.tpu.example/logo.png" '
            'alt="Логотип «Портал библиотеки»"') in html
    assert 'href="https://library.tpu.example/privacy"' in html
    assert 'href="https://library.tpu.example/terms"' in html
    assert "Политика конфиденциальности" in html and "Условия использования" in html
    csp = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://static.library.tpu.example;" in csp
    assert "entitlements" in listed(page)  # asmirnova holds two

    english = app.test_client()
    english.set_cookie("lang", "en")
    html = consent_page(english, rp, "asmirnova@tpu.ru", "Passw0rd-asmirnova").get_data(as_text=True)
    assert 'href="https://library.tpu.example/en/privacy"' in html
    assert 'alt="Logo of Library portal"' in html


def test_without_registered_links_there_is_no_logo_and_the_csp_stays_strict(
        app: Flask, browser: FlaskClient) -> None:
    with app.extensions["campus_id"].sessions() as db:
        client = find_client(db, RP1.client_id)
        assert client is not None
        client.registered_metadata = {"logo_uri": "http://rp1.example.org/logo.png",
                                      "policy_uri": "javascript:alert(1)"}
        db.commit()
    page = consent_page(browser, RP1, "demo@tpu.ru", "demo")
    html = page.get_data(as_text=True)
    assert "<img" not in html and "javascript:" not in html and "rp1.example.org/logo" not in html
    assert "img-src 'self' data:;" in page.headers["Content-Security-Policy"]


def static_library(settings: Settings, directories: dict[str, SlapdServer]) -> Settings:
    table = client_table()["rp2"]
    return make_settings(settings.database.url, directories, clients={"rp2": {
        **table, "release_claims": ["name", "entitlements"],
        "logo_uri": "https://rp2.example.org/logo.svg", "tos_uri": "https://rp2.example.org/terms"}})


def test_a_static_client_takes_its_release_and_links_from_the_configuration(
        settings: Settings, directories: dict[str, SlapdServer]) -> None:
    configured = static_library(settings, directories)
    apps = [create_app(configured), create_app(configured)]  # a restart changes nothing more
    try:
        app = apps[1]
        browser = app.test_client()
        page = consent_page(browser, RP2, "asmirnova@tpu.ru", "Passw0rd-asmirnova")
        assert listed(page) == ["sub", "name", "entitlements"]
        html = page.get_data(as_text=True)
        assert 'src="https://rp2.example.org/logo.svg"' in html
        assert 'href="https://rp2.example.org/terms"' in html and "Политика" not in html
        id_token, info = id_token_and_userinfo(browser, RP2, "asmirnova@tpu.ru", "Passw0rd-asmirnova")
        assert person_claims(id_token) == person_claims(info) == {"name", "entitlements"}
        with app.extensions["campus_id"].sessions() as db:
            changes = audit.events(db, audit.AuditEventType.CLIENT_RELEASE_CHANGED)
        assert [(e.actor, e.client_id, e.details["after"]) for e in changes] == [
            ("config", "rp2", ["entitlements", "name"])]
    finally:
        for app in apps:
            app.extensions["campus_id"].engine.dispose()


def test_a_widened_release_asks_for_consent_again(app: Flask, browser: FlaskClient) -> None:
    set_release(app, RP1.client_id, ["name"])
    assert "code" in sign_in(browser, RP1, "demo@tpu.ru", "demo")
    assert "code" in callback_params(browser.get("/authorize", query_string=RP1.params()))

    set_release(app, RP1.client_id, ["name", "email"])
    again = browser.get("/authorize", query_string=RP1.params())
    assert again.status_code == 200 and listed(again) == ["sub", "name", "email"]
    assert "code" in sign_in(browser, RP1, "demo@tpu.ru", "demo")

    set_release(app, RP1.client_id, ["email"])  # narrower than agreed: no need to ask
    assert "code" in callback_params(browser.get("/authorize", query_string=RP1.params()))
    with app.extensions["campus_id"].sessions() as db:
        granted = audit.events(db, audit.AuditEventType.CONSENT_GRANTED)
    assert [e.details["claims"] for e in granted] == [["sub", "name"], ["sub", "name", "email"]]


def test_the_configuration_owns_the_default_it_sets(
        settings: Settings, directories: dict[str, SlapdServer]) -> None:
    app = create_app(static_library(settings, directories))
    try:
        with app.extensions["campus_id"].sessions() as db:
            client = find_client(db, "rp2")
            assert client is not None
            with pytest.raises(ConfigError) as refused:
                change_release(db, client, ["name", "email"], organizations=["tpu"], actor="cli")
            assert "change it there" in refused.value.problems[0]
            assert change_release(db, client, ["name"], organizations=["tpu"],
                                  organization="tpu", actor="cli")  # a narrowing is the CLI's
            db.commit()
    finally:
        app.extensions["campus_id"].engine.dispose()
    restarted = create_app(settings)  # release_claims removed from the file
    try:
        with restarted.extensions["campus_id"].sessions() as db:
            client = find_client(db, "rp2")
            assert client is not None
            assert policies_of(db, client.id) == {"tpu": {"name"}}
            assert change_release(db, client, ["email"], organizations=["tpu"], actor="cli")
    finally:
        restarted.extensions["campus_id"].engine.dispose()
