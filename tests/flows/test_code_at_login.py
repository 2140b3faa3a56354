"""A login that an authorization request waited for is answered with that request's answer:
the code (or an error the relying party is told) goes to the relying party from the login
post itself, not through one more visit to /authorize. A page of the provider's own (consent,
an error the relying party may not be told) is shown at the request's /authorize instead, so
that reloading it never posts the login form again."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from idp import context
from idp.storage.clients import Client
from tests.flows.conftest import PORTAL, RP2
from tests.support.oidc_client import csrf_of, is_login_form, login

ISSUER = "https://id.campus.test"


def _login_page(browser: FlaskClient, params: dict[str, str]) -> TestResponse:
    """What the request shows a browser with no session: the login form, for this request,
    at ``/authorize`` itself (no redirect before it)."""
    response = browser.get("/authorize", query_string=params)
    assert is_login_form(response) and "Location" not in response.headers
    return response


def test_the_login_post_sends_the_code_to_the_relying_party(browser: FlaskClient) -> None:
    params = PORTAL.params()
    answer = login(browser, _login_page(browser, params), "demo@tpu.ru", "demo")
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == PORTAL.redirect_uri
    sent = parse_qs(location.query)
    assert sent["state"] == [params["state"]] and sent["iss"] == [ISSUER]
    token = PORTAL.token(browser, sent["code"][0])
    assert token.status_code == 200 and token.json["id_token"]  # type: ignore[index]
    # The browser is signed in: the next request is answered at once, as before.
    again = browser.get("/authorize", query_string=PORTAL.params(prompt="none"))
    assert again.status_code == 302 and "code=" in again.headers["Location"]


def test_a_consent_page_is_shown_at_the_authorization_request(browser: FlaskClient) -> None:
    params = RP2.params()
    answer = login(browser, _login_page(browser, params), "demo@tpu.ru", "demo")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/authorize?")
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["state"] == [params["state"]]
    page = browser.get(answer.headers["Location"])
    assert page.status_code == 200 and 'name="consent"' in page.get_data(as_text=True)
    reloaded = browser.get(answer.headers["Location"])  # a reload shows it again, no login post
    assert reloaded.status_code == 200 and 'name="consent"' in reloaded.get_data(as_text=True)
    allowed = browser.post(answer.headers["Location"],
                           data={"csrf_token": csrf_of(page), "consent": "allow"})
    assert allowed.status_code == 302 and allowed.headers["Location"].startswith(RP2.redirect_uri)
    assert "code=" in allowed.headers["Location"]


def test_an_error_the_relying_party_may_not_hear_is_shown_at_the_request(
        browser: FlaskClient, app: Flask) -> None:
    """The portal's redirect URI was removed while the person typed their password: the code
    may not go there, and neither may the error (RFC 6749 4.1.2.1)."""
    app.extensions["campus_id"].clients.ttl_s = 0.0  # every request reads the client afresh
    page = _login_page(browser, PORTAL.params())
    with app.app_context():
        db = context.db()
        db.execute(update(Client).where(Client.client_id == PORTAL.client_id)
                   .values(redirect_uris=["https://portal.example.org/elsewhere"]))
        db.commit()
    answer = login(browser, page, "demo@tpu.ru", "demo")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/authorize?")
    shown = browser.get(answer.headers["Location"])
    assert shown.status_code == 400 and "Location" not in shown.headers
    assert "redirect" in shown.get_data(as_text=True).lower()
    assert browser.get("/account").status_code == 200  # the login itself holds
