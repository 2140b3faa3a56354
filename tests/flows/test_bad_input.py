"""Bad input gets a clear error and changes nothing: unknown clients and redirect URIs (an
error page, never a redirect), PKCE mistakes, reused and expired codes, injection attempts in
the username, empty passwords, unknown organizations, forged forms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from idp import context
from idp.storage import audit
from idp.storage.base import utcnow
from idp.storage.identities import Identity
from idp.storage.tokens import AuthorizationCode
from tests.flows.conftest import MOODLE, RP1, SPA
from tests.support.oidc_client import callback_params, csrf_of, follow, login, sign_in


def identities(app: Flask) -> int:
    with app.app_context():
        return int(context.db().scalar(select(func.count()).select_from(Identity)) or 0)


def audit_types(app: Flask) -> list[str]:
    with app.app_context():
        return [e.type for e in audit.events(context.db())]


@pytest.mark.parametrize("params", [
    {"redirect_uri": "https://evil.example.org/callback"},
    {"redirect_uri": RP1.redirect_uri + "/"},
    {"redirect_uri": RP1.redirect_uri + "?x=1"},
    {"client_id": "no-such-client"},
    {"client_id": None},
])
def test_unknown_client_or_redirect_uri_is_an_error_page_not_a_redirect(
        browser: FlaskClient, params: dict[str, Any]) -> None:
    response = browser.get("/authorize", query_string=RP1.params(**params))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "С этим запросом что-то не так" in response.get_data(as_text=True)


def test_missing_pkce_is_refused_for_a_client_that_requires_it(browser: FlaskClient) -> None:
    response = browser.get("/authorize", query_string=RP1.params(code_challenge=None,
                                                                  code_challenge_method=None))
    error = callback_params(response)
    assert error["error"] == "invalid_request" and "PKCE" in error["error_description"]


def test_plain_pkce_is_refused(browser: FlaskClient) -> None:
    response = browser.get("/authorize", query_string=RP1.params(code_challenge_method="plain"))
    assert callback_params(response)["error"] == "invalid_request"


def test_public_client_must_use_pkce_and_no_secret(browser: FlaskClient) -> None:
    response = browser.get("/authorize", query_string=SPA.params(code_challenge=None,
                                                                  code_challenge_method=None))
    assert callback_params(response)["error"] == "invalid_request"
    result = sign_in(browser, SPA, "demo@tpu.ru", "demo")
    tokens = SPA.token(browser, result["code"])
    assert tokens.status_code == 200 and tokens.json["id_token"]


def test_moodle_style_client_without_pkce_using_client_secret_post(browser: FlaskClient) -> None:
    result = sign_in(browser, MOODLE, "demo@tusur.ru", "demo", code_challenge=None,
                     code_challenge_method=None, nonce=None)
    response = browser.post("/token", data={
        "grant_type": "authorization_code", "code": result["code"],
        "redirect_uri": MOODLE.redirect_uri, "client_id": MOODLE.client_id,
        "client_secret": MOODLE.secret,
    })
    assert response.status_code == 200, response.json
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {response.json['access_token']}"})
    assert info.json["email"] == "demo@tusur.ru"


def test_wrong_pkce_verifier_or_client_secret(browser: FlaskClient) -> None:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo")
    wrong = RP1.token(browser, result["code"], code_verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json["error"] == "invalid_grant"
    missing = browser.post("/token", data={"grant_type": "authorization_code", "code": result["code"],
                                           "redirect_uri": RP1.redirect_uri},
                           auth=(RP1.client_id, RP1.secret))
    assert missing.status_code == 400 and missing.json["error"] == "invalid_request"
    bad_secret = browser.post("/token", data={"grant_type": "authorization_code",
                                              "code": result["code"], "redirect_uri": RP1.redirect_uri,
                                              "code_verifier": RP1.verifier},
                              auth=(RP1.client_id, "not-the-secret"))
    assert bad_secret.status_code == 401 and bad_secret.json["error"] == "invalid_client"
    # None of the failures used the code up.
    assert RP1.token(browser, result["code"]).status_code == 200


def test_code_used_twice_fails_and_revokes_the_first_tokens(browser: FlaskClient, app: Flask) -> None:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo")
    first = RP1.token(browser, result["code"])
    access = first.json["access_token"]
    assert browser.get("/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    second = RP1.token(browser, result["code"])
    assert second.status_code == 400 and second.json["error"] == "invalid_grant"
    revoked = browser.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert revoked.status_code == 401
    assert 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]
    assert "token.code_reused" in audit_types(app)


def test_expired_code(browser: FlaskClient, app: Flask) -> None:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo")
    with app.app_context():
        db = context.db()
        db.execute(update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    response = RP1.token(browser, result["code"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    assert "expired" in response.json["error_description"]


def test_code_of_another_client_or_redirect_uri(browser: FlaskClient) -> None:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo")
    other = browser.post("/token", data={"grant_type": "authorization_code", "code": result["code"],
                                         "redirect_uri": RP1.redirect_uri, "code_verifier": RP1.verifier},
                         auth=(MOODLE.client_id, MOODLE.secret))
    assert other.status_code == 400 and other.json["error"] == "invalid_grant"
    moved = RP1.token(browser, result["code"], redirect_uri="https://rp1.example.org/other")
    assert moved.status_code == 400 and moved.json["error"] == "invalid_grant"


@pytest.mark.parametrize("username", [
    "*", ")(uid=*", "de*", "*)(|(uid=*", "demo)(objectClass=*", "demo\x00", "a" * 300, "\\2a",
])
def test_filter_injection_never_logs_anyone_in(browser: FlaskClient, app: Flask, username: str) -> None:
    page = follow(browser, browser.get("/authorize", query_string=RP1.params()))
    response = login(browser, page, username, "demo", organization="tpu")
    assert response.status_code == 401
    assert "Неверный логин или пароль." in response.get_data(as_text=True)
    assert identities(app) == 0


def test_wrong_password_and_unknown_user_read_the_same(browser: FlaskClient, app: Flask) -> None:
    page = follow(browser, browser.get("/authorize", query_string=RP1.params()))
    wrong = login(browser, page, "demo", "wrong", organization="tpu").get_data(as_text=True)
    unknown = login(browser, page, "nobody-here", "wrong", organization="tpu").get_data(as_text=True)
    message = "Неверный логин или пароль."
    assert message in wrong and message in unknown
    assert audit_types(app).count("login.failed") == 2


def test_empty_password_is_refused_before_any_bind(browser: FlaskClient, app: Flask) -> None:
    page = follow(browser, browser.get("/authorize", query_string=RP1.params()))
    response = login(browser, page, "demo", "", organization="tpu")
    assert response.status_code == 200
    assert "Пожалуйста, заполните все поля." in response.get_data(as_text=True)
    assert identities(app) == 0 and "login.failed" not in audit_types(app)


def test_unknown_organization(browser: FlaskClient, app: Flask) -> None:
    page = follow(browser, browser.get("/authorize", query_string=RP1.params()))
    for org in ("", "mit"):
        response = login(browser, page, "demo", "demo", organization=org)
        assert "Пожалуйста, выберите свой университет." in response.get_data(as_text=True)
    assert identities(app) == 0


def test_disabled_active_directory_account_is_told_so(browser: FlaskClient, app: Flask) -> None:
    page = follow(browser, browser.get("/authorize", query_string=RP1.params()))
    response = login(browser, page, "baranov.ip@tusur.ru", "Passw0rd-baranov.ip")
    assert "Эта учётная запись отключена" in response.get_data(as_text=True)
    wrong = login(browser, page, "baranov.ip@tusur.ru", "wrong")
    assert "Неверный логин или пароль." in wrong.get_data(as_text=True)
    assert identities(app) == 0


def test_forms_without_the_csrf_token_change_nothing(browser: FlaskClient, app: Flask) -> None:
    page = follow(browser, browser.get("/authorize", query_string=RP1.params()))
    forged = browser.post("/login", data={"organization": "tpu", "username": "demo", "password": "demo"})
    assert forged.status_code == 400 and "Форма устарела" in forged.get_data(as_text=True)
    assert identities(app) == 0
    login(browser, page, "demo@tpu.ru", "demo")
    params = RP1.params()
    consent_page = browser.get("/authorize", query_string=params)
    assert consent_page.status_code == 200
    no_token = browser.post("/authorize", query_string=params, data={"consent": "allow"})
    assert no_token.status_code == 400 and "Location" not in no_token.headers
    assert csrf_of(consent_page)


def test_userinfo_without_or_with_a_bad_token(browser: FlaskClient) -> None:
    none = browser.get("/userinfo")
    assert none.status_code == 401 and none.headers["WWW-Authenticate"].startswith("Bearer")
    bad = browser.get("/userinfo", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
