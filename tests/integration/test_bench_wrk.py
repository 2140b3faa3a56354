"""The benchmark's wrk scripts against a small server that checks what wrk sends.

A script that sent the wrong body or lost a refresh chain would print a table of failures, or
worse, of fast error responses; these tests catch that without running the whole benchmark.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from bench import wrk

AUTHORIZATION = "Basic YmVuY2g6c2VjcmV0"


class RotatingTokens:
    """Each refresh token works once and hands back the next, as the provider's rotation does."""

    def __init__(self, count: int) -> None:
        self.live = {secrets.token_urlsafe(16) + "+/=" for _ in range(count)}
        self.lock = threading.Lock()
        self.refused = 0

    def rotate(self, token: str) -> str | None:
        with self.lock:
            if token not in self.live:
                self.refused += 1
                return None
            self.live.remove(token)
            fresh = secrets.token_urlsafe(16) + "+/="
            self.live.add(fresh)
            return fresh


@pytest.fixture
def server() -> Iterator[tuple[str, RotatingTokens]]:
    tokens = RotatingTokens(5)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        def answer(self, status: int, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            if self.headers.get("Authorization") != AUTHORIZATION:
                return self.answer(401, {"error": "invalid_client"})
            if self.path == "/form":
                ok = (form == {"grant_type": ["client_credentials"], "scope": ["a b"]}
                      and self.headers["Content-Type"] == "application/x-www-form-urlencoded")
                return self.answer(200 if ok else 400, {"ok": "yes"})
            fresh = tokens.rotate(form.get("refresh_token", [""])[0])
            if fresh is None or form.get("grant_type") != ["refresh_token"]:
                return self.answer(400, {"error": "invalid_grant"})
            return self.answer(200, {"access_token": "x", "refresh_token": fresh})

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", tokens
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_fixed_form_post_arrives_whole(server: tuple[str, RotatingTokens]) -> None:
    base, _ = server
    script = wrk.fixed_request_script("POST", {"Authorization": AUTHORIZATION},
                                      {"grant_type": "client_credentials", "scope": "a b"})
    result = wrk.run(base, "/form", script, concurrency=2, seconds=1)
    assert result["requests"] > 0
    assert result["errors"] == 0


def test_a_wrong_request_counts_as_errors(server: tuple[str, RotatingTokens]) -> None:
    base, _ = server
    script = wrk.fixed_request_script("POST", {"Authorization": "Basic bm8="}, {"scope": "a b"})
    result = wrk.run(base, "/form", script, concurrency=2, seconds=1)
    assert result["requests"] == 0
    assert result["errors"] > 0
    assert wrk.first_error(base, "/form", "POST", {"Authorization": "Basic bm8="}, None).startswith(
        "/form: 401")


def test_every_refresh_chain_survives_the_run(server: tuple[str, RotatingTokens]) -> None:
    """Four connections, five chains: wrk spends one request() on checking the script."""
    base, tokens = server
    script = wrk.refresh_script(sorted(tokens.live), AUTHORIZATION)
    result = wrk.run(base, "/token", script, concurrency=4, seconds=1)
    assert result["requests"] > 20
    assert result["errors"] == 0
    assert tokens.refused == 0
