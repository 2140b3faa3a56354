"""The fast lanes (``idp.web.lanes``) answer exactly as the views behind them would: the same
request sent through the whole application with the lanes and without them gets the same
status, headers, fields and claims; the lane's answer never reached Flask. What a lane
declines (a refusal, anything unusual) the view answers as before."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from idp.oidc import basic_introspection, service_tokens
from idp.web.access_log import CLIENT
from idp.web.lanes import Lanes
from tests.flows.conftest import RP1, SERVICE, SERVICE_JWT
from tests.support.oidc_client import sign_in
from tests.support.tokens import client_credentials, introspect

OWN = {"Content-Length", "X-Request-ID"}  # each response's own


def lanes_of(app: Flask) -> Lanes:
    layer: Any = app.wsgi_app
    while not isinstance(layer, Lanes):
        layer = getattr(layer, "app", None) or layer.wsgi_app
    return layer


@pytest.fixture
def without_lanes(app: Flask) -> Iterator[Any]:
    """Call to send what follows the way Flask answers it."""
    lanes = lanes_of(app)
    kept = lanes.lanes

    def switch_off() -> None:
        lanes.lanes = {}
    yield switch_off
    lanes.lanes = kept


def through_the_lane(app: Flask, environ: dict[str, Any]) -> TestResponse:
    started: list[Any] = []

    def start(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
        started.extend([status, headers])
    body = b"".join(app.wsgi_app(environ, start))
    assert "werkzeug.request" not in environ  # Flask never made a request of it
    status, headers = started
    return TestResponse([body], status, headers, request=Request(environ))


def same_headers(ours: TestResponse, theirs: TestResponse) -> None:
    assert [(n, v) for n, v in ours.headers if n not in OWN] == [
        (n, v) for n, v in theirs.headers if n not in OWN]


def _jose_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


@pytest.mark.parametrize("service", [SERVICE, SERVICE_JWT], ids=["opaque", "jwt"])
def test_a_service_token_is_the_one_authlib_gives(app: Flask, browser: FlaskClient,
                                                  without_lanes: Any,
                                                  service: tuple[str, str]) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(":".join(service).encode()).decode()}
    assert client_credentials(browser, service).status_code == 200  # now remembered

    def sent() -> dict[str, Any]:
        environ: dict[str, Any] = EnvironBuilder(
            "/token", method="POST", headers=list(basic.items()), data="grant_type=client_credentials",
            content_type="application/x-www-form-urlencoded").get_environ()
        return environ
    environ = sent()
    lane = through_the_lane(app, environ)
    assert environ.get(CLIENT) == service[0]  # named in the access line
    without_lanes()
    authlib = browser.open(sent())
    assert lane.status_code == authlib.status_code == 200
    same_headers(lane, authlib)
    assert lane.json is not None and authlib.json is not None
    assert {k: v for k, v in lane.json.items() if k != "access_token"} == {
        k: v for k, v in authlib.json.items() if k != "access_token"}
    ours, theirs = lane.json["access_token"], authlib.json["access_token"]
    if service == SERVICE_JWT:
        assert _jose_part(ours, 0) == _jose_part(theirs, 0)  # alg, kid, typ at+jwt
        claims, expected = _jose_part(ours, 1), _jose_part(theirs, 1)
        assert claims["jti"] != expected["jti"]
        assert claims["exp"] - claims["iat"] == expected["exp"] - expected["iat"]
        skip = {"jti", "iat", "exp"}
        assert {k: v for k, v in claims.items() if k not in skip} == {
            k: v for k, v in expected.items() if k not in skip}
    introspected = introspect(browser, service, ours).json
    assert introspected is not None and introspected["active"] is True


def test_a_refresh_is_the_one_authlib_gives(app: Flask, browser: FlaskClient,
                                           without_lanes: Any) -> None:
    """The same headers, in order, and the same JSON, keys in the same order (Flask's)."""
    code = sign_in(browser, RP1, "demo@tpu.ru", "demo", scope="openid profile offline_access")
    tokens = RP1.token(browser, code["code"]).json
    assert tokens is not None
    basic = "Basic " + base64.b64encode(f"{RP1.client_id}:{RP1.secret}".encode()).decode()

    def sent(token: str) -> dict[str, Any]:
        environ: dict[str, Any] = EnvironBuilder(
            "/token", method="POST", headers=[("Authorization", basic)],
            data=f"grant_type=refresh_token&refresh_token={token}",
            content_type="application/x-www-form-urlencoded").get_environ()
        return environ
    environ = sent(tokens["refresh_token"])
    lane = through_the_lane(app, environ)
    assert environ.get(CLIENT) == RP1.client_id  # named in the access line
    assert lane.status_code == 200 and lane.json is not None
    without_lanes()
    authlib = app.test_client().open(sent(lane.json["refresh_token"]))
    assert authlib.status_code == 200 and authlib.json is not None
    same_headers(lane, authlib)
    assert list(lane.json) == list(authlib.json) == sorted(authlib.json)
    fresh = {"access_token", "refresh_token"}
    assert {k: v for k, v in lane.json.items() if k not in fresh} == {
        k: v for k, v in authlib.json.items() if k not in fresh}
    active = introspect(browser, (RP1.client_id, RP1.secret), authlib.json["access_token"]).json
    assert active is not None and active["active"] is True


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks"])
def test_a_published_document_is_the_one_its_view_gives(app: Flask, browser: FlaskClient,
                                                        without_lanes: Any, path: str) -> None:
    lane = through_the_lane(app, EnvironBuilder(path).get_environ())
    without_lanes()
    view = browser.get(path)
    assert lane.status_code == view.status_code == 200
    same_headers(lane, view)
    assert lane.get_data() == view.get_data() and lane.json is not None


def test_userinfo_is_the_claims_its_view_gives(app: Flask, browser: FlaskClient,
                                               without_lanes: Any) -> None:
    tokens = RP1.token(browser, sign_in(browser, RP1, "demo@tpu.ru", "demo")["code"]).json
    assert tokens is not None
    token = tokens["access_token"]
    services = app.extensions["campus_id"]
    services.clients.clear()  # read from the database in the lane: on SQLite, on its one
    services.release_policies.clear()  # connection (a second would wait for the write lock)
    environ = EnvironBuilder("/userinfo", headers=[("Authorization", f"Bearer {token}")]).get_environ()
    lane = through_the_lane(app, environ)
    without_lanes()
    # As a relying party's server asks: no cookie of the person's browser.
    view = app.test_client().get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert lane.status_code == view.status_code == 200
    same_headers(lane, view)
    assert lane.get_data() == view.get_data() and lane.json is not None and lane.json["sub"]


def test_a_refused_bearer_token_is_answered_by_the_view(app: Flask, browser: FlaskClient) -> None:
    service = client_credentials(browser, SERVICE).json
    assert service is not None
    for token in ("no-such-token", service["access_token"]):
        refused = browser.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="campus-id", error="invalid_token"'


def test_a_lane_that_fails_leaves_the_request_to_its_view(app: Flask, browser: FlaskClient,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing a lane began is kept (its transaction rolled back), and the view answers."""
    def broken(server: Any, request: Any) -> Any:
        request.form  # noqa: B018 -- the body read, as the narrow path reads it
        raise RuntimeError("a lane's own bug")
    monkeypatch.setattr(basic_introspection, "answer", broken)
    service = client_credentials(browser, SERVICE).json
    assert service is not None
    answered = introspect(app.test_client(), SERVICE, service["access_token"])
    assert answered.status_code == 200 and answered.json is not None
    assert answered.json["active"] is True


def test_a_token_lane_that_fails_leaves_the_request_to_the_view(
        app: Flask, browser: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client_credentials(browser, SERVICE_JWT).status_code == 200  # remembered

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a lane's own bug")
    monkeypatch.setattr(service_tokens, "issue", broken)
    answered = client_credentials(browser, SERVICE_JWT)
    assert answered.status_code == 200 and answered.json is not None
    assert answered.json["token_type"] == "Bearer"
