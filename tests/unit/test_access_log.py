"""An access log line tells method, path, client and status; never the query, whose codes,
id_token_hints, request objects and tokens are secrets, and never a second line smuggled in
through a path or a client_id. (The served provider's whole log: tests/flows/test_served.py.)"""

from __future__ import annotations

import datetime
import logging
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from idp.web.access_log import CLIENT, log_path, printable
from idp.web.serve import AccessLog, DevRequestLog

QUERY = "?code=SplxlOBeZQQYbYS6WxSbIA&id_token_hint=eyJhbGciOi.eyJzdWIiOi.c2ln&state=xyz"


def test_the_path_is_kept_without_query_or_fragment_and_printable() -> None:
    assert log_path({"RAW_URI": "/authorize" + QUERY}) == "/authorize"
    assert log_path({"RAW_URI": "/cb#access_token=x"}) == "/cb"
    assert log_path({"RAW_URI": "http://id.campus.test/token?code=x"}) == "http://id.campus.test/token"
    assert log_path({"PATH_INFO": "/a\r\nforged line"}) == "/a\\x0d\\x0aforged\\x20line"
    assert printable("тест\x00", 64) == "\\u0442\\u0435\\u0441\\u0442\\x00"
    assert "\n" not in printable("a\nb", 64) and len(printable("x" * 100, 64)) == 64


def test_gunicorn_access_log_line_has_no_query() -> None:
    logger = AccessLog(Config())
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/authorize" + QUERY, "PATH_INFO": "/authorize",
               "QUERY_STRING": QUERY[1:], "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
               "HTTP_REFERER": "https://rp.example.org/cb" + QUERY, CLIENT: "rp1"}
    response = SimpleNamespace(status="302 FOUND", headers=[("Location", "https://rp/cb" + QUERY)],
                               sent=0)
    request = SimpleNamespace(headers=[("Authorization", "Basic cnAxOnNlY3JldA==")])
    atoms = logger.atoms(response, request, environ, datetime.timedelta(milliseconds=12))
    line = AccessLog.FORMAT % atoms
    assert '"GET /authorize" 302 0 12ms client=rp1' in line and line.startswith("10.0.0.7 ")
    for secret in ("code", "id_token_hint", "xyz", "Basic", "cnAx", "rp.example.org"):
        assert secret not in line


def test_development_server_request_log_has_no_query(caplog: pytest.LogCaptureFixture) -> None:
    handler = DevRequestLog.__new__(DevRequestLog)  # no socket: only its logging is used
    handler.command, handler.path, handler.request_version = "GET", "/logout" + QUERY, "HTTP/1.1"
    handler.client_address = ("127.0.0.1", 50000)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        handler.log_request(200, 512)
    assert '"GET /logout" 200 512' in caplog.text and "id_token_hint" not in caplog.text
