"""Authorization requests waiting for a login live in the session cookie, and a browser drops
a cookie over 4,096 bytes without a word (the person would sign in and land nowhere). A
request too large to keep is refused to its relying party with a clear error; many waiting
requests push out the oldest, and the newest still ends at its relying party."""

from __future__ import annotations

import secrets

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.flows.conftest import RP1
from tests.support.oidc_client import RID, callback_params, csrf_of, follow, is_login_form, login

BROWSER_LIMIT = 4_096


def cookie_sizes(response: TestResponse) -> list[int]:
    return [len(value.split(";", 1)[0]) for value in response.headers.getlist("Set-Cookie")]


def test_a_request_too_large_to_keep_is_refused_to_the_relying_party(
        browser: FlaskClient) -> None:
    state = secrets.token_urlsafe(3000)  # 4,000 characters that do not compress
    response = browser.get("/authorize", query_string=RP1.params(state=state))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(RP1.redirect_uri)
    answer = callback_params(response)
    assert answer["error"] == "invalid_request" and answer["state"] == state
    assert "too large to keep while the person signs in" in answer["error_description"]
    assert all(size < BROWSER_LIMIT for size in cookie_sizes(response))


def test_many_waiting_requests_push_out_the_oldest_and_the_newest_goes_on(
        browser: FlaskClient) -> None:
    rids = []
    for _ in range(5):  # five tabs, each a request with a long state, none signed in yet
        params = RP1.params(state=secrets.token_urlsafe(800))
        response = browser.get("/authorize", query_string=params)
        assert is_login_form(response)
        assert all(size < BROWSER_LIMIT for size in cookie_sizes(response))
        rid = RID.search(response.get_data(as_text=True))
        assert rid
        rids.append(rid.group(1))
    page = response
    assert 'class="sub"' in page.get_data(as_text=True)  # "to sign in to <the client>"
    oldest = browser.get(f"/login?rid={rids[0]}")  # pushed out: a login for no client
    assert oldest.status_code == 200 and 'class="sub"' not in oldest.get_data(as_text=True)
    response = follow(browser, login(browser, page, "asmirnova@tpu.ru", "Passw0rd-asmirnova"))
    assert response.status_code == 200  # the consent page of the newest request
    response = browser.post("/authorize", query_string=params,
                            data={"csrf_token": csrf_of(response), "consent": "allow"})
    answer = callback_params(response)
    assert answer["state"] == params["state"] and answer["code"]
