"""The benchmark's wrk scripts against small servers that check what wrk sends.

A script that sent the wrong body, lost a refresh chain or a login's cookie would print a table
of failures, or worse, of fast error responses; these tests catch that without running the
whole benchmark.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


class QuietServer(ThreadingHTTPServer):
    """wrk resets its connections when its time is up: not worth a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextmanager
def served(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free loopback port, in a thread: its base URL."""
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


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

    with served(Handler) as base:
        yield base, tokens


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


class LoginSite:
    """The three requests of a login as the provider checks them: the form's cookie and
    csrf_token, the rid it names, the person's password, a code spent once, its PKCE verifier
    and a nonce never seen before."""

    USERS = {("uni", "ann"): "pw+ann&1", ("uni", "bob"): "pw bob=2"}
    BASIC = "Basic " + base64.b64encode(b"web:web-secret").decode()

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.forms: dict[str, tuple[str, str, str]] = {}  # cookie -> csrf, rid, challenge
        self.codes: dict[str, str] = {}  # code -> challenge
        self.nonces: set[str] = set()
        self.people: set[str] = set()
        self.refused: list[str] = []

    def authorize(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], str]:
        nonce = query.get("nonce", [""])[0]
        with self.lock:
            if (not nonce or nonce in self.nonces or query.get("client_id") != ["web"]
                    or query.get("code_challenge_method") != ["S256"]):
                self.refused.append(f"authorize {query}")
                return 400, {}, "bad request"
            self.nonces.add(nonce)
            cookie, csrf, rid = (secrets.token_urlsafe(8) for _ in range(3))
            self.forms[cookie] = (csrf, rid, query["code_challenge"][0])
        form = (f'<form><input type="hidden" name="csrf_token" value="{csrf}">'
                f'<input type="hidden" name="rid" value="{rid}"></form>')
        return 200, {"Set-Cookie": f"site={cookie}; HttpOnly; Path=/"}, form

    def login(self, cookie: str, form: dict[str, list[str]]) -> tuple[int, dict[str, str], str]:
        with self.lock:
            kept = self.forms.pop(cookie.removeprefix("site="), None)
            person = (form.get("organization", [""])[0], form.get("username", [""])[0])
            if (kept is None or form.get("csrf_token") != [kept[0]] or form.get("rid") != [kept[1]]
                    or self.USERS.get(person) != form.get("password", [""])[0]):
                self.refused.append(f"login {form}")
                return 401, {}, "no"
            self.people.add(person[1])
            code = secrets.token_urlsafe(12)
            self.codes[code] = kept[2]
        return 302, {"Location": f"http://127.0.0.1:9/cb?code={code}&state=s"}, ""

    def token(self, authorization: str, form: dict[str, list[str]]) -> tuple[int, dict[str, str], str]:
        with self.lock:
            challenge = self.codes.pop(form.get("code", [""])[0], None)
        verifier = form.get("code_verifier", [""])[0].encode()
        made = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if (authorization != self.BASIC or challenge != made
                or form.get("redirect_uri") != ["http://127.0.0.1:9/cb"]):
            self.refused.append(f"token {form}")
            return 400, {}, '{"error": "invalid_grant"}'
        return 200, {"Content-Type": "application/json"}, '{"access_token": "x"}'


@pytest.fixture
def login_site() -> Iterator[tuple[str, LoginSite]]:
    site = LoginSite()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        def answer(self, answer: tuple[int, dict[str, str], str]) -> None:
            status, headers, text = answer
            data = text.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path != "/authorize" or self.headers.get("Cookie"):
                return self.answer((400, {}, "a new browser has no cookie"))
            return self.answer(site.authorize(parse_qs(query)))

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            if self.path == "/login":
                return self.answer(site.login(self.headers.get("Cookie", ""), form))
            return self.answer(site.token(self.headers.get("Authorization", ""), form))

    with served(Handler) as base:
        yield base, site


def login_spec(base: str, users: dict[tuple[str, str], str]) -> dict[str, object]:
    return {"base": base, "concurrency": 3, "seconds": 1, "client_id": "web",
            "client_secret": "web-secret", "redirect_uri": "http://127.0.0.1:9/cb",
            "users": [{"organization": org, "username": name, "password": password}
                      for (org, name), password in users.items()]}


def test_the_login_driver_completes_whole_logins(login_site: tuple[str, LoginSite]) -> None:
    """Each connection a browser after another: its cookie, form fields and code carried on,
    a fresh nonce each time, every person's password sent as typed."""
    base, site = login_site
    result = wrk.login(login_spec(base, LoginSite.USERS))
    assert site.refused == []
    assert result["errors"] == 0
    assert result["requests"] > 10
    assert result["http_requests"] >= 3 * result["requests"]
    assert site.people == {"ann", "bob"}
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert 0 < result["request_p50_ms"] <= result["request_p99_ms"]


def test_a_refused_login_counts_as_an_error_with_its_answer(login_site: tuple[str, LoginSite]) -> None:
    base, site = login_site
    result = wrk.login(login_spec(base, {("uni", "ann"): "wrong"}))
    assert result["requests"] == 0
    assert result["errors"] > 0
    assert result["first_error"] == "login post: 401 "
    assert site.nonces  # the forms were asked for and answered
