"""The code exchange's fast lane (``idp.oidc.code_requests``) answers exactly as the token view
would: the same status, headers in order (the browser's session cookie refreshed alike when
the request carries it), JSON keys and ID token claims; what it declines the view answers as
before. On SQLite the lane declines every code (no claiming statement there)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, TestResponse

from idp.oidc import code_requests
from idp.web.access_log import CLIENT
from tests.flows.conftest import RP1
from tests.flows.test_lanes import OWN, lanes_of, through_the_lane
from tests.support.oidc_client import is_login_form, sign_in
from tests.support.tokens import introspect

COOKIE = "campus_id"
FRESH = {"access_token", "refresh_token", "id_token"}
# Made anew by each exchange (times, digests of fresh values) or each authorization (nonce).
OWN_CLAIMS = {"iat", "exp", "at_hash", "nonce"}


@pytest.fixture
def without_lanes(app: Flask) -> Iterator[Callable[[], None]]:
    """Call to send what follows the way Flask answers it."""
    lanes = lanes_of(app)
    kept = lanes.lanes
    yield lambda: setattr(lanes, "lanes", {})
    lanes.lanes = kept


def postgres_only(app: Flask) -> None:
    if app.extensions["campus_id"].engine.dialect.name != "postgresql":
        pytest.skip("the lane claims codes on PostgreSQL only")


def exchange(code: str, cookie: str | None, **changed: str) -> dict[str, Any]:
    """The environ of a code exchange with HTTP Basic credentials, as RP1 sends it."""
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": RP1.redirect_uri, "code_verifier": RP1.verifier, **changed}
    basic = "Basic " + base64.b64encode(f"{RP1.client_id}:{RP1.secret}".encode()).decode()
    headers = [("Authorization", basic)] + ([("Cookie", f"{COOKIE}={cookie}")] if cookie else [])
    environ: dict[str, Any] = EnvironBuilder(
        "/token", method="POST", headers=headers, data=form,
        content_type="application/x-www-form-urlencoded").get_environ()
    return environ


def through_the_view(app: Flask, environ: dict[str, Any]) -> TestResponse:
    """As sent, its Cookie header included (a test client would send its own jar's)."""
    return app.test_client(use_cookies=False).open(environ)


def claims_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def cookie_parts(response: TestResponse) -> list[tuple[str, str]]:
    """Headers in order, the session cookie as its session (its signature and expiry are of
    the second it was made)."""
    parts = []
    for name, value in response.headers:
        if name in OWN:
            continue
        if name == "Set-Cookie":
            signed, *attributes = value.split("; ")
            value = "; ".join([signed.split(".")[0], *(a for a in attributes
                                                        if not a.startswith("Expires="))])
        parts.append((name, value))
    return parts


def same_answer(lane: TestResponse, view: TestResponse) -> None:
    assert lane.status_code == view.status_code == 200
    assert cookie_parts(lane) == cookie_parts(view)
    assert lane.json is not None and view.json is not None
    assert list(lane.json) == list(view.json) == sorted(view.json)
    assert {k: v for k, v in lane.json.items() if k not in FRESH} == {
        k: v for k, v in view.json.items() if k not in FRESH}
    ours, theirs = claims_of(lane.json["id_token"]), claims_of(view.json["id_token"])
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k not in OWN_CLAIMS} == {
        k: v for k, v in theirs.items() if k not in OWN_CLAIMS}
    assert lane.json["id_token"].split(".")[0] == view.json["id_token"].split(".")[0]


@pytest.mark.parametrize("with_cookie", [True, False], ids=["browser-cookie", "rp-server"])
def test_a_code_exchange_is_the_one_authlib_gives(app: Flask, browser: FlaskClient,
                                                  without_lanes: Any, with_cookie: bool) -> None:
    postgres_only(app)
    scope = "openid profile email campus offline_access"
    first = sign_in(browser, RP1, "demo@tpu.ru", "demo", scope=scope)["code"]
    second = sign_in(browser, RP1, "demo@tpu.ru", "demo", scope=scope)["code"]
    found = browser.get_cookie(COOKIE)
    cookie = found.value if with_cookie and found is not None else None
    environ = exchange(first, cookie)
    lane = through_the_lane(app, environ)
    assert environ.get(CLIENT) == RP1.client_id  # named in the access line
    without_lanes()
    view = through_the_view(app, exchange(second, cookie))
    same_answer(lane, view)
    assert ("Set-Cookie" in lane.headers) is with_cookie
    assert lane.json is not None
    active = introspect(browser, (RP1.client_id, RP1.secret), lane.json["access_token"]).json
    assert active is not None and active["active"] is True


def test_a_foreign_cookie_is_left_as_the_view_leaves_it(app: Flask, browser: FlaskClient,
                                                        without_lanes: Any) -> None:
    """A cookie that is no session of ours (a bad signature): no session cookie set, no Vary."""
    postgres_only(app)
    first = sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]
    second = sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]
    lane = through_the_lane(app, exchange(first, "not.a.session"))
    without_lanes()
    view = through_the_view(app, exchange(second, "not.a.session"))
    same_answer(lane, view)
    assert "Set-Cookie" not in lane.headers and "Vary" not in lane.headers


def test_a_session_not_yet_signed_in_is_left_as_the_view_leaves_it(app: Flask, browser: FlaskClient,
                                                                   without_lanes: Any) -> None:
    """The cookie of a browser that only reached the login page (a session, not a permanent
    one): whatever the view sets or varies on, the lane does."""
    postgres_only(app)
    first = sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]
    second = sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]
    stranger = app.test_client()
    assert is_login_form(stranger.get("/authorize", query_string=RP1.params()))
    found = stranger.get_cookie(COOKIE)
    assert found is not None
    lane = through_the_lane(app, exchange(first, found.value))
    without_lanes()
    view = through_the_view(app, exchange(second, found.value))
    same_answer(lane, view)


@pytest.mark.parametrize("changed", [
    {"redirect_uri": "https://rp1.example.org/other"},
    {"code_verifier": "x" * 50},
    {"code_verifier": ""},
], ids=["redirect-uri", "wrong-verifier", "no-verifier"])
def test_a_refused_exchange_is_the_views_and_spends_nothing(app: Flask, browser: FlaskClient,
                                                            without_lanes: Any,
                                                            changed: dict[str, str]) -> None:
    """The lane declines; the view refuses as it always has, and the code is still good."""
    first = sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]
    second = sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]
    lane = through_the_view(app, exchange(first, None, **changed))
    without_lanes()
    view = through_the_view(app, exchange(second, None, **changed))
    assert lane.status_code == view.status_code == 400
    assert [(n, v) for n, v in lane.headers if n not in OWN] == [
        (n, v) for n, v in view.headers if n not in OWN]
    assert lane.get_data() == view.get_data()
    assert through_the_view(app, exchange(first, None)).status_code == 200


def test_a_reused_code_is_the_views_and_revokes_what_it_gave(app: Flask,
                                                             browser: FlaskClient) -> None:
    code = sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]
    tokens = through_the_view(app, exchange(code, None)).json
    assert tokens is not None
    again = through_the_view(app, exchange(code, None))
    assert again.status_code == 400 and again.json is not None
    assert again.json["error"] == "invalid_grant"
    active = introspect(browser, (RP1.client_id, RP1.secret), tokens["access_token"]).json
    assert active is not None and active["active"] is False


def test_a_lane_that_fails_after_the_claim_leaves_the_code_to_the_view(
        app: Flask, browser: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim is rolled back with the lane's transaction: the view redeems the code."""
    postgres_only(app)
    code = sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a lane's own bug")
    monkeypatch.setattr(code_requests, "store_issued", broken)
    answered = through_the_view(app, exchange(code, None))
    assert answered.status_code == 200 and answered.json is not None
    assert answered.json["id_token"]
