"""The login form's CSRF token is made with the waiting authorization request, so showing the
form changes nothing in the session: its answer sets no cookie (the session cookie is signed
and sent again only when it changes), and the token it carries is the one the post is held to."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.flows.conftest import PORTAL
from tests.support.oidc_client import callback_params, csrf_of, login


def test_showing_the_login_form_sets_no_cookie(browser: FlaskClient) -> None:
    params = PORTAL.params()
    to_login = browser.get("/authorize", query_string=params)
    assert to_login.status_code == 302 and "Set-Cookie" in to_login.headers
    page = browser.get(to_login.headers["Location"])
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    again = browser.get(to_login.headers["Location"])  # a reload shows the same token
    assert csrf_of(again) == csrf_of(page)
    answer = login(browser, page, "demo@tpu.ru", "demo")
    assert callback_params(answer)["state"] == params["state"]


def test_a_form_shown_without_a_waiting_request_still_gets_its_token(browser: FlaskClient) -> None:
    page = browser.get("/login")
    assert page.status_code == 200 and "Set-Cookie" in page.headers
    answer = login(browser, page, "demo@tpu.ru", "demo")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
