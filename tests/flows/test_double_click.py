"""What a person can cause by clicking twice: two requests released together at a barrier, on
SQLite with the in-process throttle and on PostgreSQL with Redis (the production set-up). Both
requests get the answer one of them alone would have got; neither gets a 429 or a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from demo import people
from demo.slapd import SlapdServer
from idp import context
from idp.app import create_app
from idp.settings import Settings
from idp.storage.grants import Consent
from tests.flows.conftest import MOODLE, RP1, RP2, SPA, make_settings
from tests.support.concurrency import together
from tests.support.oidc_client import RelyingParty, callback_params, csrf_of, follow, is_login_form, login
from tests.support.throttle import throttle_table

ROUNDS = 40


@pytest.fixture
def production_like(database_url: str, settings: Settings,
                    directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    """The app with Redis as the throttle store on PostgreSQL, in-process on SQLite."""
    backend = "redis" if database_url.startswith("postgresql") else "memory"
    with throttle_table(backend) as table:
        app = create_app(make_settings(database_url, directories, throttle=table))
        yield app
        app.extensions["campus_id"].engine.dispose()


def twin(app: Flask, browser: FlaskClient) -> FlaskClient:
    """A second test client with the same cookies: the same browser, a second click."""
    other = app.test_client()
    for cookie in browser._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return other


def test_two_right_passwords_at_once_both_get_in(production_like: Flask) -> None:
    person = people.organization("tpu").person("asmirnova")
    statuses: list[int] = []
    for _ in range(ROUNDS):
        browsers = [production_like.test_client() for _ in range(2)]
        forms = [{"csrf_token": csrf_of(b.get("/login")), "organization": "tpu",
                  "username": person.username, "password": person.password} for b in browsers]
        statuses += [r.status_code for r in together(
            *(lambda b=b, f=f: b.post("/login", data=f) for b, f in zip(browsers, forms, strict=True)))]
    assert statuses == [302] * (2 * ROUNDS)


def consent_page(browser: FlaskClient, rp: RelyingParty, params: dict[str, str],
                 username: str, password: str) -> TestResponse:
    response = browser.get("/authorize", query_string=params)
    if is_login_form(response):
        response = follow(browser, login(browser, response, username, password,
                                           "tpu"))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


@pytest.mark.parametrize("username", ["asmirnova", "demo", "epopova"])
def test_allow_clicked_twice_on_a_first_consent_stores_one_consent_without_an_error(production_like: Flask,
                                                                username: str) -> None:
    person = people.organization("tpu").person(username)
    browser = production_like.test_client()
    for rp in (RP1, RP2, MOODLE, SPA):
        params = rp.params()
        page = consent_page(browser, rp, params, person.username, person.password)
        form: dict[str, Any] = {"csrf_token": csrf_of(page), "consent": "allow"}
        clicks = [browser, twin(production_like, browser)]
        responses = together(*(lambda b=b, p=params, f=form: b.post("/authorize", query_string=p,
                                                                     data=f) for b in clicks))
        # Both go back to the relying party: the first with a code; the second with a code as
        # well, or (when it ran after the first had finished, as on SQLite) refused as a
        # replay of the request's nonce, never a server error.
        answers = [callback_params(response) for response in responses]
        assert all(a["state"] == params["state"] for a in answers), answers
        assert any("code" in a for a in answers), answers
        assert all("code" in a or a["error_description"] == "Replay attack" for a in answers)
    with production_like.app_context():
        consents = context.db().scalar(select(func.count()).select_from(Consent))
    assert consents == 4
