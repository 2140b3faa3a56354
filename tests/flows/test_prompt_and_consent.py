"""prompt=none|login, max_age, login_hint, consent remembered or denied, trusted clients, and a
directory that is down affecting only its own organization."""

from __future__ import annotations

import time

from flask.testing import FlaskClient

from demo.slapd import free_port
from idp.app import create_app
from idp.settings import Settings
from tests.flows.conftest import PORTAL, RP1, RP2
from tests.support.oidc_client import callback_params, csrf_of, follow, is_login_form, login, sign_in


def test_prompt_none_without_a_session_answers_login_required(browser: FlaskClient) -> None:
    response = browser.get("/authorize", query_string=RP1.params(prompt="none"))
    assert callback_params(response)["error"] == "login_required"


def test_prompt_none_without_consent_answers_consent_required(browser: FlaskClient) -> None:
    sign_in(browser, RP1, "demo@tpu.ru", "demo")
    response = browser.get("/authorize", query_string=RP2.params(prompt="none"))
    assert callback_params(response)["error"] == "consent_required"


def test_prompt_none_with_session_and_consent_returns_a_code(browser: FlaskClient) -> None:
    sign_in(browser, RP1, "demo@tpu.ru", "demo")
    response = browser.get("/authorize", query_string=RP1.params(prompt="none"))
    assert "code" in callback_params(response)


def test_prompt_login_asks_for_the_password_again(browser: FlaskClient) -> None:
    first = sign_in(browser, RP1, "demo@tpu.ru", "demo")
    first_time = RP1.token(browser, first["code"]).json
    time.sleep(1.1)
    params = RP1.params(prompt="login")
    response = browser.get("/authorize", query_string=params)
    assert is_login_form(response)
    back = login(browser, response, "demo@tpu.ru", "demo")
    code = callback_params(follow(browser, back))["code"]
    again = RP1.token(browser, code).json
    assert again["id_token"] != first_time["id_token"]
    from joserfc import jwt

    t1 = jwt.decode(first_time["id_token"], _keys(browser)).claims["auth_time"]
    t2 = jwt.decode(again["id_token"], _keys(browser)).claims["auth_time"]
    assert t2 > t1


def _keys(browser: FlaskClient):  # type: ignore[no-untyped-def]
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(browser.get("/jwks").json)


def test_max_age_older_than_the_login_asks_again(browser: FlaskClient) -> None:
    sign_in(browser, RP1, "demo@tpu.ru", "demo")
    time.sleep(1.1)
    stale = browser.get("/authorize", query_string=RP1.params(max_age="0"))
    assert is_login_form(stale)
    fresh = browser.get("/authorize", query_string=RP1.params(max_age="3600"))
    assert "code" in callback_params(fresh)


def test_login_hint_fills_in_username_and_organization(browser: FlaskClient) -> None:
    response = browser.get("/authorize", query_string=RP1.params(login_hint="ivan.petrov@tsu.ru"))
    html = response.get_data(as_text=True)
    assert 'value="ivan.petrov"' in html
    assert '<option value="tsu" selected>' in html


def test_consent_is_remembered_per_client_and_scope(browser: FlaskClient) -> None:
    sign_in(browser, RP1, "demo@tpu.ru", "demo", scope="openid profile")
    same = browser.get("/authorize", query_string=RP1.params(scope="openid profile"))
    assert "code" in callback_params(same)
    wider = browser.get("/authorize", query_string=RP1.params())
    assert wider.status_code == 200
    html = wider.get_data(as_text=True)
    assert 'name="consent" value="allow"' in html and "Ваш адрес электронной почты" in html


def test_denied_consent_returns_access_denied(browser: FlaskClient) -> None:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo", consent="deny")
    assert result["error"] == "access_denied"
    again = browser.get("/authorize", query_string=RP1.params())
    assert again.status_code == 200  # nothing was remembered


def test_trusted_client_skips_consent(browser: FlaskClient) -> None:
    result = sign_in(browser, PORTAL, "demo@tpu.ru", "demo", consent=None)
    assert "code" in result


def test_logout_ends_the_single_sign_on_session(browser: FlaskClient) -> None:
    sign_in(browser, RP1, "demo@tpu.ru", "demo")
    browser.post("/logout", data={"csrf_token": csrf_of(browser.get("/"))})
    response = browser.get("/authorize", query_string=RP1.params(prompt="none"))
    assert callback_params(response)["error"] == "login_required"


def test_a_directory_down_affects_only_its_own_organization(settings: Settings) -> None:
    dead = f"ldap://127.0.0.1:{free_port()}"
    orgs = dict(settings.organizations)
    from dataclasses import replace

    orgs["tsu"] = replace(orgs["tsu"], directory=replace(orgs["tsu"].directory, uris=(dead,)))
    app = create_app(replace(settings, organizations=orgs))
    browser = app.test_client()
    page = browser.get("/authorize", query_string=RP1.params())
    down = login(browser, page, "demo@tsu.ru", "demo")
    assert down.status_code == 503
    assert "Каталог «Томский государственный университет» не отвечает" in down.get_data(as_text=True)
    up = login(browser, page, "demo@tpu.ru", "demo")
    assert up.status_code == 302
    app.extensions["campus_id"].engine.dispose()
