"""The browser's part of an authorization request given as a ready query (a pushed
request's ``request_uri``, or a signed ``request`` object): authorize, log in, consent."""

from __future__ import annotations

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.oidc_client import csrf_of, follow, is_login_form, login

USERNAME, PASSWORD = "asmirnova@tpu.ru", "Passw0rd-asmirnova"


def authorize(browser: FlaskClient, query: dict[str, str], username: str = USERNAME,
              password: str = PASSWORD) -> TestResponse:
    """The response that ends the front channel: a redirect to the client, or an error page."""
    response = browser.get("/authorize", query_string=query)
    if is_login_form(response):
        response = follow(browser, login(browser, response, username, password))
    if response.status_code == 200 and 'name="consent"' in response.get_data(as_text=True):
        response = browser.post("/authorize", query_string=query,
                                data={"csrf_token": csrf_of(response), "consent": "allow"})
    return response
