"""/authorize reads a trusted client's login session as one row (``sessions.find_session_row``)
and issues the code from it: the same code row, redirect and ID token ``sid`` as the general
path, which loads the session with its person as ORM objects."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from idp import context
from idp.storage.sessions import LoginSession, SessionRow
from idp.storage.tokens import AuthorizationCode, digest
from idp.web import oidc
from idp.web.session import current_login, current_login_row
from tests.flows.conftest import PORTAL
from tests.support.oidc_client import is_login_form, sign_in

COMPARED = ("client_pk", "identity_id", "redirect_uri", "scope", "auth_time", "login_session_id",
            "code_challenge", "code_challenge_method", "used_at")


def _code_row(app: Flask, code: str) -> dict[str, Any]:
    with app.app_context():
        found = context.db().scalars(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == digest(code))).one()
        return {name: getattr(found, name) for name in COMPARED}


def _authorize(browser: FlaskClient) -> tuple[dict[str, list[str]], str]:
    """A second authorization at the trusted portal, the session reused: (callback query,
    Location without its query)."""
    response = browser.get("/authorize", query_string=PORTAL.params(state="same"))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    location = urlsplit(response.headers["Location"])
    return parse_qs(location.query), location._replace(query="").geturl()


def _general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session loaded as ORM objects, as for a client that is not trusted."""
    monkeypatch.setattr(oidc, "_signed_in", lambda params, decision: current_login())


def _id_token_sid(browser: FlaskClient, code: str) -> Any:
    """The ``sid`` of the ID token ``code`` is exchanged for."""
    token: Any = PORTAL.token(browser, code).json
    keys: Any = browser.get("/jwks").json
    return jwt.decode(token["id_token"], KeySet.import_key_set(keys)).claims["sid"]


def _login_sid(app: Flask) -> str | None:
    with app.app_context():
        return context.db().scalars(select(LoginSession.sid)).one()


def test_a_code_from_the_row_is_the_code_of_the_general_path(
        browser: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(browser, PORTAL, "demo", "demo", organization="tpu")
    rows: list[SessionRow | None] = []

    def spy() -> SessionRow | None:
        rows.append(current_login_row())
        return rows[-1]
    with monkeypatch.context() as spied:
        spied.setattr(oidc, "current_login_row", spy)
        light, light_where = _authorize(browser)
    assert len(rows) == 1 and rows[0] is not None  # the row path was taken
    with monkeypatch.context() as patched:
        _general_path(patched)
        general, general_where = _authorize(browser)
    assert light_where == general_where
    assert light.keys() == general.keys() == {"code", "state", "iss"}
    assert light["state"] == general["state"] and light["iss"] == general["iss"]
    assert _code_row(app, light["code"][0]) == _code_row(app, general["code"][0])
    assert _id_token_sid(browser, light["code"][0]) == _login_sid(app)


def test_a_session_without_sid_is_named_on_the_general_path(
        browser: FlaskClient, app: Flask) -> None:
    sign_in(browser, PORTAL, "demo", "demo", organization="tpu")
    with app.app_context():
        context.db().execute(update(LoginSession).values(sid=None))
        context.db().commit()
    callback, _ = _authorize(browser)
    assert _login_sid(app) is not None  # named on first use (``public_sid``), committed
    assert _id_token_sid(browser, callback["code"][0]) == _login_sid(app)


def test_an_ended_session_read_as_a_row_asks_for_a_login(
        browser: FlaskClient, app: Flask) -> None:
    sign_in(browser, PORTAL, "demo", "demo", organization="tpu")
    with app.app_context():
        context.db().execute(update(LoginSession).values(ended_at=LoginSession.created_at))
        context.db().commit()
    response = browser.get("/authorize", query_string=PORTAL.params())
    assert is_login_form(response)
