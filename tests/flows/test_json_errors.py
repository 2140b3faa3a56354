"""What a machine caller reads when something goes wrong outside the protocol's own errors:
the OAuth error code follows whose fault it was (4xx ``invalid_request``, 5xx
``server_error``, 503 ``temporarily_unavailable``), never a crash told as the caller's
mistake; the details stay in the log."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from idp.errors import IdpError


class _Broken(IdpError):
    status_code = 502
    public = "An upstream answered nonsense."


def test_a_crash_at_a_protocol_endpoint_is_a_server_error(app: Flask,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    def crash() -> str:
        raise RuntimeError("the secret detail of a bug")

    app.add_url_rule("/token/crash-for-test", "crash_for_test", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/token/crash-for-test", base_url="https://id.campus.test")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "server_error"
    assert "secret detail" not in response.get_data(as_text=True)
    assert "the secret detail of a bug" in caplog.text  # the operator sees it in the log


def test_an_error_of_the_provider_is_not_the_callers(app: Flask) -> None:
    def broken() -> str:
        raise _Broken("detail for the log")

    app.add_url_rule("/userinfo/broken-for-test", "broken_for_test", broken)
    response = app.test_client().get("/userinfo/broken-for-test", base_url="https://id.campus.test")
    assert response.status_code == 502
    assert response.get_json() == {"error": "server_error",
                                   "error_description": "An upstream answered nonsense."}


def test_the_callers_mistake_stays_invalid_request(app: Flask) -> None:
    response = app.test_client().get("/token", base_url="https://id.campus.test")
    assert response.status_code == 405
    assert response.get_json()["error"] == "invalid_request"
    big = app.test_client().post("/token", data={"x": "y" * 70_000},
                                 base_url="https://id.campus.test")
    assert big.status_code == 413
    assert big.get_json()["error"] == "invalid_request"
