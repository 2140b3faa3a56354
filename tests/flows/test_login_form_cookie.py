"""The login form's CSRF token is made with the waiting authorization request, so showing the
form again (``/login?rid=``, where the language switch of a failed post's form leads) changes
nothing in the session: its answer sets no cookie (the session cookie is signed and sent
again only when it changes), and the token it carries is the one the post is held to."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.flows.conftest import PORTAL
from tests.support.oidc_client import RID, callback_params, csrf_of, is_login_form, login


def test_showing_the_login_form_again_sets_no_cookie(browser: FlaskClient) -> None:
    params = PORTAL.params()
    page = browser.get("/authorize", query_string=params)
    assert is_login_form(page) and "Set-Cookie" in page.headers  # the waiting request, kept
    rid = RID.search(page.get_data(as_text=True))
    assert rid
    again = browser.get(f"/login?rid={rid.group(1)}")  # the form for it, shown once more
    assert again.status_code == 200 and "Set-Cookie" not in again.headers
    assert csrf_of(again) == csrf_of(page)
    answer = login(browser, again, "demo@tpu.ru", "demo")
    assert callback_params(answer)["state"] == params["state"]


def test_a_form_shown_without_a_waiting_request_still_gets_its_token(browser: FlaskClient) -> None:
    page = browser.get("/login")
    assert page.status_code == 200 and "Set-Cookie" in page.headers
    answer = login(browser, page, "demo@tpu.ru", "demo")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
