"""An access log line tells method, path, client and status; never the query, whose codes,
id_token_hints, request objects and tokens are secrets, and never a second line smuggled in
through a path or a client_id. (The served provider's whole log, under each engine:
tests/flows/test_served.py and tests/flows/test_served_request_ids.py.)"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask, Response
from werkzeug.test import EnvironBuilder

from idp.web.access_log import REQUEST_ID, AccessLogged, log_path, printable
from idp.web.serve import DevRequestLog

QUERY = "?code=SplxlOBeZQQYbYS6WxSbIA&id_token_hint=eyJhbGciOi.eyJzdWIiOi.c2ln&state=xyz"


def test_the_path_is_kept_without_query_or_fragment_and_printable() -> None:
    assert log_path({"RAW_URI": "/authorize" + QUERY}) == "/authorize"
    assert log_path({"RAW_URI": "/cb#access_token=x"}) == "/cb"
    assert log_path({"RAW_URI": "http://id.campus.test/token?code=x"}) == "http://id.campus.test/token"
    assert log_path({"PATH_INFO": "/a\r\nforged line"}) == "/a\\x0d\\x0aforged\\x20line"
    assert printable("тест\x00", 64) == "\\u0442\\u0435\\u0441\\u0442\\x00"
    assert "\n" not in printable("a\nb", 64) and len(printable("x" * 100, 64)) == 64


def test_development_server_request_log_has_no_query(caplog: pytest.LogCaptureFixture) -> None:
    handler = DevRequestLog.__new__(DevRequestLog)  # no socket: only its logging is used
    handler.command, handler.path, handler.request_version = "GET", "/logout" + QUERY, "HTTP/1.1"
    handler.client_address = ("127.0.0.1", 50000)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        handler.log_request(200, 512)
    assert '"GET /logout" 200 512' in caplog.text and "id_token_hint" not in caplog.text


def test_the_development_server_leaves_a_request_that_reached_the_app_to_the_access_log(
        caplog: pytest.LogCaptureFixture) -> None:
    handler = DevRequestLog.__new__(DevRequestLog)
    handler.command, handler.path, handler.request_version = "GET", "/jwks", "HTTP/1.1"
    handler.client_address = ("127.0.0.1", 50000)
    handler.environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/jwks"}  # the app was called
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        handler.log_request(200, 512)
    assert "/jwks" not in caplog.text  # AccessLogged wrote its line instead


def test_an_application_that_raises_still_gets_its_access_line(
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(environ: Any, start_response: Any) -> Any:
        environ[REQUEST_ID] = "abc-123"
        raise RuntimeError("boom")

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/token", "REMOTE_ADDR": "10.0.0.7"}
    with caplog.at_level(logging.INFO, logger="idp.access"), pytest.raises(RuntimeError):
        AccessLogged(broken)(environ, lambda *_: None)  # type: ignore[arg-type]
    [line] = caplog.records
    assert '"POST /token" 500 0' in line.getMessage()
    assert line.request_id == "abc-123"  # type: ignore[attr-defined]


def test_an_answer_of_declared_length_goes_to_the_server_whole(
        caplog: pytest.LogCaptureFixture) -> None:
    """As one list, so that granian writes its head and body together: a proxy never holds the
    head of an answer whose instance died before its body (tests/integration/
    test_three_instances.py kills one under load)."""
    app = Flask(__name__)
    closed: list[bool] = []

    @app.get("/jwks")
    def jwks() -> Response:
        answer = Response('{"keys":[]}', mimetype="application/json")
        answer.call_on_close(lambda: closed.append(True))
        return answer

    environ = EnvironBuilder(path="/jwks").get_environ()
    with caplog.at_level(logging.INFO, logger="idp.access"):
        body = AccessLogged(app.wsgi_app)(environ, lambda *_: None)  # type: ignore[arg-type]
        assert body == [b'{"keys":[]}'] and closed == [True]
        [line] = caplog.records  # written once the answer is ready
    assert '"GET /jwks" 200 11' in line.getMessage()


def test_an_answer_of_unknown_length_streams_and_is_logged_when_closed(
        caplog: pytest.LogCaptureFixture) -> None:
    def streaming(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"part one, "
        yield b"part two"

    environ = EnvironBuilder(path="/export").get_environ()
    with caplog.at_level(logging.INFO, logger="idp.access"):
        body = AccessLogged(streaming)(environ, lambda *_: None)  # type: ignore[arg-type]
        assert not isinstance(body, list) and caplog.records == []
        assert b"".join(body) == b"part one, part two"
        body.close()  # type: ignore[attr-defined]
    [line] = caplog.records
    assert '"GET /export" 200 18' in line.getMessage()
