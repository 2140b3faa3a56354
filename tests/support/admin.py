"""Signing staff in to the admin UI over Flask's test client, the way a browser does: /admin,
the code flow of Campus ID with its login page, then the callback."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.oidc_client import csrf_of, login


def local(location: str) -> str:
    """A redirect target as a path of the app (the callback comes back to the issuer's host)."""
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def admin_sign_in(browser: FlaskClient, username: str, password: str, organization: str,
                  start: str = "/admin/clients", area: str = "admin") -> TestResponse:
    """Returns the response of the page the sign-in lands on; ``area``: ``helpdesk`` for the
    helpdesk console, which signs in the same way."""
    response = browser.get(start)
    assert response.status_code == 302 and f"/{area}/login" in response.headers["Location"]
    response = browser.get(local(response.headers["Location"]))
    assert response.status_code == 302 and response.headers["Location"].startswith("/authorize")
    response = browser.get(local(response.headers["Location"]))
    if response.status_code == 302 and response.headers["Location"].startswith("/login"):
        page = browser.get(local(response.headers["Location"]))
        response = login(browser, page, username, password, organization)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        response = browser.get(local(response.headers["Location"]))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert f"/{area}/callback" in response.headers["Location"]
    response = browser.get(local(response.headers["Location"]))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return browser.get(local(response.headers["Location"]))


def post_form(browser: FlaskClient, page: TestResponse, path: str,
              data: dict[str, str | list[str]]) -> TestResponse:
    """A form post with the CSRF token of ``page``."""
    return browser.post(path, data={"csrf_token": csrf_of(page), **data})
