"""Bad input gets a clear error and changes nothing: unknown clients and redirect URIs (an
error page, never a redirect), PKCE mistakes, reused and expired codes, injection attempts in
the username, empty passwords, unknown organizations, forged forms."""

from __future__ import annotations

import base64
import io
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
from tests.flows.conftest import MOODLE, RP1, SERVICE, SPA
from tests.support.oidc_client import callback_params, csrf_of, login, sign_in


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
    page = browser.get("/authorize", query_string=RP1.params())
    response = login(browser, page, username, "demo", organization="tpu")
    assert response.status_code == 401
    assert "Неверный логин или пароль." in response.get_data(as_text=True)
    assert identities(app) == 0


def test_wrong_password_and_unknown_user_read_the_same(browser: FlaskClient, app: Flask) -> None:
    page = browser.get("/authorize", query_string=RP1.params())
    wrong = login(browser, page, "demo", "wrong", organization="tpu").get_data(as_text=True)
    unknown = login(browser, page, "nobody-here", "wrong", organization="tpu").get_data(as_text=True)
    message = "Неверный логин или пароль."
    assert message in wrong and message in unknown
    assert audit_types(app).count("login.failed") == 2


def test_empty_password_is_refused_before_any_bind(browser: FlaskClient, app: Flask) -> None:
    page = browser.get("/authorize", query_string=RP1.params())
    response = login(browser, page, "demo", "", organization="tpu")
    assert response.status_code == 200
    assert "Пожалуйста, заполните все поля." in response.get_data(as_text=True)
    assert identities(app) == 0 and "login.failed" not in audit_types(app)


def test_unknown_organization(browser: FlaskClient, app: Flask) -> None:
    page = browser.get("/authorize", query_string=RP1.params())
    for org in ("", "mit"):
        response = login(browser, page, "demo", "demo", organization=org)
        assert "Пожалуйста, выберите свой университет." in response.get_data(as_text=True)
    assert identities(app) == 0


def test_disabled_active_directory_account_is_told_so(browser: FlaskClient, app: Flask) -> None:
    page = browser.get("/authorize", query_string=RP1.params())
    response = login(browser, page, "baranov.ip@tusur.ru", "Passw0rd-baranov.ip")
    assert "Эта учётная запись отключена" in response.get_data(as_text=True)
    wrong = login(browser, page, "baranov.ip@tusur.ru", "wrong")
    assert "Неверный логин или пароль." in wrong.get_data(as_text=True)
    assert identities(app) == 0


def test_forms_without_the_csrf_token_change_nothing(browser: FlaskClient, app: Flask) -> None:
    page = browser.get("/authorize", query_string=RP1.params())
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


BAD_REDIRECT_URIS = [
    "http://127.0.0.1:5173\\@evil.example/callback",  # a browser reads the backslash as a slash
    SPA.redirect_uri + "\x00",
    SPA.redirect_uri + '"',
    SPA.redirect_uri + " ",
    SPA.redirect_uri + "\r\nLocation: https://evil.example/",
]


def test_a_redirect_uri_that_is_not_a_uri_is_an_error_page(browser: FlaskClient) -> None:
    for redirect_uri in BAD_REDIRECT_URIS:
        for method in ("GET", "POST"):
            response = browser.open("/authorize", method=method,
                                    query_string=SPA.params(redirect_uri=redirect_uri))
            assert response.status_code == 400 and "Location" not in response.headers
            page = response.get_data(as_text=True)
            assert "С этим запросом что-то не так" in page and "The redirect_uri is not a URI" in page


def test_a_response_type_with_a_quote_is_an_error_page(browser: FlaskClient) -> None:
    response = browser.get("/authorize", query_string=RP1.params(response_type='code"'))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "This response_type is not supported." in response.get_data(as_text=True)


NOT_UTF8_CREDENTIALS = [
    "Basic " + base64.b64encode(b"rp1\xff:\xfe\xff").decode(),  # base64 of bytes that are not UTF-8
    "Basic " + base64.b64encode(b"\xc3\x28:secret").decode(),
    "Basic \u00e9\u00e9\u00e9\u00e9",  # not even base64
]


def test_client_credentials_that_are_not_utf8_are_invalid_client(browser: FlaskClient) -> None:
    for path in ("/token", "/introspect", "/revoke", "/par"):
        for credentials in NOT_UTF8_CREDENTIALS:
            response = browser.post(path, data={"grant_type": "client_credentials", "token": "x"},
                                    headers={"Authorization": credentials})
            assert response.status_code == 401 and response.json["error"] == "invalid_client"
            assert "not UTF-8" in response.json["error_description"]
            assert response.headers["WWW-Authenticate"].startswith("Basic ")


ONE_MB = 1024 * 1024


def test_a_form_over_64_kb_is_refused_with_a_page(browser: FlaskClient, app: Flask) -> None:
    page = browser.get("/authorize", query_string=RP1.params())
    for path in ("/login", "/authorize", "/account/link", "/logout", "/admin/tokens"):
        for size in (64 * 1024 + 1, ONE_MB, 10 * ONE_MB):
            response = browser.post(path, data={
                "csrf_token": csrf_of(page), "rid": "x", "organization": "tpu", "username": "demo",
                "password": "demo", "x": "a" * size})
            assert response.status_code == 413, path
            assert "Отправленные данные слишком велики (больше 64 КБ)." in response.get_data(as_text=True)
    assert identities(app) == 0


def test_a_body_over_64_kb_is_refused_with_json(browser: FlaskClient) -> None:
    for path in ("/token", "/par", "/introspect", "/revoke", "/userinfo", "/register",
                 "/api/v1/identities/x/accounts"):
        response = browser.post(path, data={"x": "a" * ONE_MB}, auth=(RP1.client_id, RP1.secret or ""))
        assert response.status_code == 413 and response.is_json, path
        if not path.startswith("/api/"):  # the helpdesk API has its own error shape
            assert response.json == {"error": "invalid_request",
                                     "error_description": "The request body is larger than 64 KB."}


def test_a_chunked_body_over_64_kb_is_refused_and_a_small_one_read(browser: FlaskClient) -> None:
    """No Content-Length: the length is known only by reading, and no more than the limit is."""
    def chunked(body: bytes) -> dict[str, Any]:
        return {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
                "HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_TYPE": "application/x-www-form-urlencoded"}
    big = browser.post("/token", environ_overrides=chunked(b"x=" + b"a" * ONE_MB))
    assert big.status_code == 413
    form = f"grant_type=client_credentials&client_id={SERVICE[0]}&client_secret={SERVICE[1]}"
    small = browser.post("/token", environ_overrides=chunked(form.encode()))
    assert small.status_code == 200 and small.json["access_token"]


def test_a_host_header_that_is_no_host_is_a_bad_request(browser: FlaskClient) -> None:
    for host in ("evil\x00.example", "a" * 300, "bad host", "\xff.example", ""):
        page = browser.get("/login", environ_overrides={"HTTP_HOST": host})
        assert page.status_code == 400 and "С этим запросом что-то не так" in page.get_data(as_text=True)
        token = browser.post("/token", environ_overrides={"HTTP_HOST": host})
        assert token.status_code == 400 and token.json["error"] == "invalid_request"


def test_raw_bytes_in_the_query_are_read_as_percent_encoded(browser: FlaskClient) -> None:
    """A query with raw non-ASCII bytes (as some clients send it) reads as a browser's would."""
    response = browser.get("/login", environ_overrides={"QUERY_STRING": "rid=\xff\xfe&lang=en"})
    assert response.status_code == 200 and 'lang="en"' in response.get_data(as_text=True)


def test_a_protocol_endpoint_over_plain_http_says_so(browser: FlaskClient) -> None:
    """Authlib refuses OAuth over plain http to a host other than loopback: a client's
    mistake (or a proxy not trusted for X-Forwarded-Proto), answered as one."""
    response = browser.post("/token", base_url="http://id.campus.test",
                            data={"grant_type": "client_credentials"}, auth=SERVICE)
    assert response.status_code == 400 and response.json["error"] == "insecure_transport"
