"""The whole HTTP surface fuzzed for server errors: every route of the app's URL map, with each
of its methods, gets oversized, non-UTF-8, NUL and control-character values in its path, query,
form, JSON body, headers and cookies, as raw bytes at the WSGI level (what a server passes
on), anonymously and in a signed-in session. No answer may be a 5xx.

A fixed corpus, so every run sends the same requests. Each route's query and form start from
parameters a real caller would send (a known client, its registered redirect URI, the
session's CSRF token, a service's credentials; an initial access token at /register) and take
a bad value in one parameter at a time, then in all of them, so that bad input meets the code
behind the first checks too. SQLite, behind a trusted proxy (the forwarded headers are read
too); the helpdesk API is also fuzzed from its own document (test_helpdesk_api_fuzz.py).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage.base import make_engine
from idp.storage.migrate import upgrade
from tests.flows.conftest import RP1, SERVICE, make_settings
from tests.support.oidc_client import csrf_of, sign_in
from tests.support.registration import initial_token

BAD: dict[str, bytes] = {
    "oversized": b"x" * 70_000,  # over the 64 KB body limit, over any sane header
    "non-utf8": b"\xff\xfe\xc3\x28\xed\xa0\x80",  # invalid bytes, a broken sequence, a surrogate
    "nul-control": b"a\x00\r\n\t\x1b\x7f\x0bb",
    "uri-breakers": b'http://127.0.0.1:9\\@evil.example/"cb\' <>{}|^`%',
}
SHORT = [label for label in BAD if label != "oversized"]
# What a caller of each path sends; any other path gets GENERIC.
GENERIC = {"client_id": RP1.client_id, "rid": "x", "next": "account", "lang": "en", "q": "x",
           "state": "s", "code": "x", "error": "x", "org": "tpu", "sub": "x", "reason": "x"}
CLIENT_AUTH = {"client_id": RP1.client_id, "client_secret": RP1.secret or ""}
BASES: dict[str, dict[str, str]] = {
    "/authorize": {**RP1.params(), "prompt": "login", "max_age": "60", "login_hint": "demo@tpu.ru",
                   "ui_locales": "en", "consent": "allow", "response_mode": "query"},
    "/par": {**RP1.params(), **CLIENT_AUTH},
    "/token": {"grant_type": "client_credentials", "scope": "schedule.read", "client_id": SERVICE[0],
               "client_secret": SERVICE[1], "code": "x", "redirect_uri": RP1.redirect_uri,
               "code_verifier": RP1.verifier, "refresh_token": "x"},
    "/introspect": {"token": "x", "token_type_hint": "access_token", **CLIENT_AUTH},
    "/revoke": {"token": "x", "token_type_hint": "refresh_token", **CLIENT_AUTH},
    "/userinfo": {"access_token": "x"},
    "/login": {"rid": "x", "next": "account", "organization": "tpu", "username": "demo",
               "password": "wrong"},
    "/logout": {"id_token_hint": "x", "post_logout_redirect_uri": "https://rp1.example.org/bye",
                "client_id": RP1.client_id, "state": "s", "ui_locales": "en", "confirm": "yes"},
}
# A registration (RFC 7591) or an API change: each field takes each bad value in turn.
JSON_BASE: dict[str, Any] = {
    "client_name": "Fuzzed", "redirect_uris": ["https://fuzz.example/cb"], "scope": "openid",
    "grant_types": ["authorization_code"], "token_endpoint_auth_method": "client_secret_basic",
    "jwks_uri": "https://fuzz.example/jwks", "logo_uri": "https://fuzz.example/logo.png",
    "sector_identifier_uri": "https://fuzz.example/s", "subject_type": "public",
    "id_token_signed_response_alg": "RS256", "post_logout_redirect_uris": ["https://fuzz.example/bye"],
    "event_delivery_uri": "https://fuzz.example/events", "contacts": ["it@fuzz.example"],
    "reason": "fuzz", "disabled": False}
HEADERS = {"HTTP_ACCEPT_LANGUAGE", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_HOST",
           "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
           "HTTP_ORIGIN", "HTTP_REFERER", "HTTP_USER_AGENT"}
COOKIES = ("campus_id", "lang", "campus_admin")
SESSION_PATHS = ("/authorize", "/account", "/logout", "/login", "/userinfo")
ARGUMENT = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    base: dict[str, str]
    bad_paths: tuple[str, ...]  # the path with a bad value in each argument it has


@dataclass(frozen=True)
class Caller:
    client: FlaskClient
    csrf: str


@pytest.fixture(scope="module")
def surface_app(tmp_path_factory: pytest.TempPathFactory,
                directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('surface')) / 'idp.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = create_app(make_settings(url, directories, server={"trust_forwarded_headers": True}))
    yield app
    app.extensions["campus_id"].engine.dispose()


@pytest.fixture(scope="module")
def callers(surface_app: Flask) -> dict[str, Caller]:
    anonymous = surface_app.test_client()
    signed_in = surface_app.test_client()
    sign_in(signed_in, RP1, "demo@tpu.ru", "demo")
    return {"anonymous": Caller(anonymous, csrf_of(anonymous.get("/login"))),
            "signed in": Caller(signed_in, csrf_of(signed_in.get("/account")))}


def routes(app: Flask) -> list[Route]:
    """Every rule with each of its methods, its arguments filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        path = _path(rule, None)
        bad = tuple(_path(rule, value) for value in BAD.values()) if rule.arguments else ()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append(Route(path, method, BASES.get(path, GENERIC), bad))
    return found


def _path(rule: Rule, bad: bytes | None) -> str:
    def fill(match: re.Match[str]) -> str:
        converter, options, name = match.groups()
        if converter == "int":
            return "1"
        if converter == "any":
            return str(options).split(",")[0].strip()
        if bad is not None:
            return quote_from_bytes(bad, safe="")
        return {"filename": "campus.css", "client_id": RP1.client_id}.get(name, "x")
    return ARGUMENT.sub(fill, rule.rule)


def encoded(params: dict[str, bytes]) -> str:
    """A query string or form body, percent-encoded byte for byte."""
    return "&".join(f"{quote_from_bytes(k.encode())}={quote_from_bytes(v)}" for k, v in params.items())


def raw(value: bytes) -> str:
    """Bytes as a WSGI server hands them over: a latin-1 string."""
    return value.decode("latin-1")


def parameter_sets(route: Route, csrf: str) -> Iterator[tuple[str, str]]:
    """(label, encoded parameters): each parameter of a known path bad in turn, then all of
    them (one oversized parameter is enough), for each bad value; each bad value raw, not
    percent-encoded; and a bad parameter name, repeated."""
    plain = {k: v.encode() for k, v in {**route.base, "csrf_token": csrf}.items()}
    for label, value in BAD.items():
        if route.base is not GENERIC and label in SHORT:
            for name in plain:
                yield f"{name}={label}", encoded({**plain, name: value})
        everywhere = {**plain, "big": value} if label == "oversized" else dict.fromkeys(plain, value)
        yield f"all={label}", encoded(everywhere)
        yield f"raw {label}", encoded(plain) + "&raw=" + raw(value.replace(b"&", b"").replace(b"=", b""))
        name = quote_from_bytes(value[:64])
        yield f"repeated name {label}", encoded(plain) + f"&{name}=1&{name}=2"


def send(client: FlaskClient, path: str, method: str, *, query: str = "", body: bytes | None = None,
         content_type: str = "application/x-www-form-urlencoded",
         environ: dict[str, Any] | None = None) -> str:
    """The status, or 500 with what escaped the application (a server's bare 500)."""
    try:
        response = client.open(path, method=method, data=body,
                               content_type=content_type if body is not None else None,
                               environ_overrides={"QUERY_STRING": query, **(environ or {})})
    except Exception as error:
        return f"500 ({type(error).__name__}: {str(error)[:120]!r})"
    response.close()
    return str(response.status_code)


def requests_of(kind: str, route: Route, csrf: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, arguments of ``send``) for one kind of input."""
    if kind == "query":
        for label, params in parameter_sets(route, csrf):
            yield f"query {label}", {"query": params}
        for label, path in zip(BAD, route.bad_paths, strict=False):
            yield f"path {label}", {"path": path, "query": encoded({"lang": b"en"})}
    elif kind == "body" and route.method != "GET":
        for label, params in parameter_sets(route, csrf):
            yield f"form {label}", {"body": params.encode("latin-1")}
        for label, value in BAD.items():
            body = b'{"client_name": "' + value + b'", "redirect_uris": ["' + value + b'"]}'
            yield f"json raw {label}", {"body": body, "content_type": "application/json"}
            text = value.decode("utf-8", "surrogateescape")  # valid JSON, bad content
            document = {**JSON_BASE, **dict.fromkeys(JSON_BASE, text), "redirect_uris": [text]}
            for name in JSON_BASE:
                for changed in ({**JSON_BASE, name: text}, document):
                    yield f"json {name}={label}", {"body": json.dumps(changed).encode(),
                                                   "content_type": "application/json"}
    elif kind == "headers":
        for label in BAD:
            value = raw(BAD[label])
            yield f"headers={label}", {"body": b"a=b", "environ": dict.fromkeys(HEADERS, value)}
            basic = raw(base64.b64encode(BAD[label] + b":" + BAD[label]))
            for credentials in (f"Basic {basic}", f"Bearer {value}", value):
                yield f"Authorization={credentials[:6]} {label}", {
                    "environ": {"HTTP_AUTHORIZATION": credentials}}
            yield f"cookies={label}", {
                "environ": {"HTTP_COOKIE": "; ".join(f"{name}={value}" for name in COOKIES)}}


@pytest.mark.parametrize("who", ["anonymous", "signed in"])
@pytest.mark.parametrize("kind", ["query", "body", "headers"])
def test_no_route_answers_bad_input_with_a_server_error(
        surface_app: Flask, callers: dict[str, Caller], kind: str, who: str) -> None:
    caller = callers[who]
    failures = []
    for route in routes(surface_app):
        if who == "signed in" and not route.path.startswith(SESSION_PATHS):
            continue  # the same code as anonymously: no session is read there
        for label, arguments in requests_of(kind, route, caller.csrf):
            arguments = {"path": route.path, **arguments}
            if route.path == "/register" and kind == "body":  # past the token, to the metadata
                token = initial_token(surface_app)  # each: a failed registration spends it
                arguments["environ"] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
            status = send(caller.client, method=route.method, **arguments)
            if status.startswith("5"):
                failures.append(f"{status} {route.method} {route.path} {label}")
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"


def test_the_fuzz_reaches_every_blueprint(surface_app: Flask) -> None:
    """The fuzz is only as wide as the URL map it reads."""
    paths = {route.path for route in routes(surface_app)}
    for expected in ("/authorize", "/par", "/token", "/login", "/account", "/logout", "/register",
                     "/api/v1/identities", "/admin/clients", "/api/v1/clients", "/jwks"):
        assert expected in paths
