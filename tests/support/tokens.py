"""Calls a relying party or a service makes to the token, introspection, revocation and
UserInfo endpoints, with either way of sending its secret."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

Credentials = tuple[str, str | None]  # client_id, secret (None for a public client)


def _post(browser: FlaskClient, path: str, client: Credentials, data: dict[str, Any],
          method: str = "basic") -> TestResponse:
    client_id, secret = client
    data = {k: v for k, v in data.items() if v is not None}
    if secret is None:
        return browser.post(path, data={**data, "client_id": client_id})
    if method == "post":
        return browser.post(path, data={**data, "client_id": client_id, "client_secret": secret})
    return browser.post(path, data=data, auth=(client_id, secret))


def refresh(browser: FlaskClient, client: Credentials, refresh_token: str,
            scope: str | None = None, method: str = "basic") -> TestResponse:
    return _post(browser, "/token", client, {"grant_type": "refresh_token",
                                             "refresh_token": refresh_token, "scope": scope}, method)


def client_credentials(browser: FlaskClient, client: Credentials, scope: str | None = None,
                       method: str = "basic") -> TestResponse:
    return _post(browser, "/token", client, {"grant_type": "client_credentials", "scope": scope},
                 method)


def introspect(browser: FlaskClient, client: Credentials, token: str,
               hint: str | None = None, method: str = "basic") -> TestResponse:
    return _post(browser, "/introspect", client, {"token": token, "token_type_hint": hint}, method)


def revoke(browser: FlaskClient, client: Credentials, token: str,
           hint: str | None = None, method: str = "basic") -> TestResponse:
    return _post(browser, "/revoke", client, {"token": token, "token_type_hint": hint}, method)


def userinfo_status(browser: FlaskClient, access_token: str) -> int:
    return browser.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code
