"""A browser with no session gets the login form from ``/authorize`` itself: no redirect to
``/login`` before it (one round trip less for every person, one request less for the
provider). A posted authorization request is still sent on to ``/login?rid=``, so that a
reload never posts it again."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.flows.conftest import PORTAL, RP1
from tests.support.oidc_client import RID, callback_params, is_login_form, login


def test_the_form_is_the_answer_of_the_authorization_request(browser: FlaskClient) -> None:
    params = PORTAL.params(login_hint="demo@tpu.ru")
    page = browser.get("/authorize", query_string=params)
    html = page.get_data(as_text=True)
    assert is_login_form(page) and "Location" not in page.headers
    assert "Set-Cookie" in page.headers  # the waiting request, kept for the form's post
    assert 'value="demo"' in html and '<option value="tpu" selected>' in html  # the hint
    assert "no-store" in page.headers["Cache-Control"]
    reloaded = browser.get("/authorize", query_string=params)  # a reload: the form again
    assert is_login_form(reloaded)
    rids = [RID.search(p.get_data(as_text=True)) for p in (page, reloaded)]
    assert all(rids) and rids[0].group(1) != rids[1].group(1)  # type: ignore[union-attr]
    answer = login(browser, page, "demo@tpu.ru", "demo")  # the first tab's form still works
    assert callback_params(answer)["state"] == params["state"]


def test_a_posted_authorization_request_is_sent_on_to_the_form(browser: FlaskClient) -> None:
    params = RP1.params()
    response = browser.post("/authorize", data=params)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?rid=")
    page = browser.get(response.headers["Location"])
    assert is_login_form(page) and 'class="sub"' in page.get_data(as_text=True)  # for RP1
