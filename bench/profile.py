"""``python -m bench.profile SCENARIO``: the provider's own CPU cost per request, without a network.

The load benchmark measures what a client sees; this one answers "where does the time go": it
builds the app in this process over the demo directories and a throwaway PostgreSQL database,
calls the WSGI app directly N times and prints the CPU time per request and the SQL statements
and commits per request (a figure no other load on the machine can blur). With ``--profile`` it
runs the same loop under cProfile timed by CPU time and prints the heaviest calls, which is how
the hot paths were found and trimmed.

Scenarios: discovery, jwks, cc-es256, cc-rs256, cc-opaque, introspection, introspection-cc-es256,
userinfo, refresh, login. ``introspection`` asks about a person's (stored) access token,
``introspection-cc-es256`` about a service's self-contained JWT, checked by its signature.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import pstats
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from werkzeug.test import EnvironBuilder

from bench.__main__ import (
    LOGIN_CLIENT,
    REDIRECT_URI,
    SERVICE_SCOPE,
    SERVICES,
    basic,
    bench_clients,
    login_users,
    throwaway_postgres,
)
from demo.slapd import free_port
from demo.stack import ProviderStack

Call = Callable[[], None]


def wsgi_call(app: Flask, method: str, path: str, *, headers: dict[str, str] | None = None,
              form: dict[str, str] | None = None, expect: int = 200) -> Call:
    """A prepared request, replayed without a client library in the way."""
    base = EnvironBuilder(path=path, method=method, headers=headers or {},
                          data=urlencode(form) if form is not None else None,
                          content_type="application/x-www-form-urlencoded" if form is not None else None,
                          base_url="http://127.0.0.1:8080").get_environ()
    body = base["wsgi.input"].read()

    def call() -> None:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []
        chunks: Iterable[bytes] = app(environ, lambda s, h, e=None: status.append(s))  # type: ignore[arg-type]
        b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        if not status[0].startswith(str(expect)):
            raise RuntimeError(f"{method} {path}: {status[0]}")
    return call


def browser_login(app: Flask, user: dict[str, str],
                  scope: str = "openid profile email campus") -> dict[str, Any]:
    """authorize -> login form -> post -> code -> token, one fresh cookie jar per login."""
    web = app.test_client()
    web.environ_base["HTTP_HOST"] = urlsplit(app.config["CAMPUS_ISSUER"]).netloc
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": LOGIN_CLIENT["client_id"],
                       "redirect_uri": REDIRECT_URI, "scope": scope, "state": "s",
                       "nonce": secrets.token_urlsafe(8),
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    response = web.get(f"/authorize?{query}")
    page = web.get(_local(response.headers["Location"]))
    text = page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', text)
    rid = re.search(r'name="rid" value="([^"]*)"', text)
    assert csrf and rid, (response.status_code, response.headers.get("Location"), text[-1500:])
    response = web.post("/login", data={"csrf_token": csrf.group(1), "rid": rid.group(1), **user})
    response = web.get(_local(response.headers["Location"]))
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    token = web.post("/token", headers=basic_of(LOGIN_CLIENT["client_id"], LOGIN_CLIENT["client_secret"]),
                     data={"grant_type": "authorization_code", "code": code,
                           "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert token.status_code == 200, token.get_data(as_text=True)
    body: dict[str, Any] = token.get_json()
    return body


def _local(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def basic_of(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def scenario(app: Flask, name: str) -> Call:
    users = login_users()
    if name == "discovery":
        return wsgi_call(app, "GET", "/.well-known/openid-configuration")
    if name == "jwks":
        return wsgi_call(app, "GET", "/jwks")
    services = {f"cc-{alg.lower()}" if fmt == "jwt" else "cc-opaque": client_id
                for client_id, fmt, alg in SERVICES.values()}
    if name in services:
        return wsgi_call(app, "POST", "/token", headers=basic(services[name]),
                         form={"grant_type": "client_credentials", "scope": SERVICE_SCOPE})
    if name == "introspection-cc-es256":
        client_id = services["cc-es256"]
        web = app.test_client()
        response = web.post("/token", headers=basic(client_id),
                            data={"grant_type": "client_credentials", "scope": SERVICE_SCOPE})
        assert response.status_code == 200, response.get_data(as_text=True)
        return wsgi_call(app, "POST", "/introspect", headers=basic(client_id),
                         form={"token": response.get_json()["access_token"]})
    if name == "introspection":
        token = browser_login(app, users[0])["access_token"]
        return wsgi_call(app, "POST", "/introspect", headers=basic_of(**_secret_pair()),
                         form={"token": token})
    if name == "userinfo":
        token = browser_login(app, users[0])["access_token"]
        return wsgi_call(app, "GET", "/userinfo", headers={"Authorization": f"Bearer {token}"})
    if name == "refresh":
        chain = [browser_login(app, users[0], "openid offline_access")["refresh_token"]]
        web = app.test_client()

        def rotate() -> None:
            response = web.post("/token", headers=basic_of(**_secret_pair()),
                                data={"grant_type": "refresh_token", "refresh_token": chain[0]})
            assert response.status_code == 200, response.get_data(as_text=True)
            chain[0] = response.get_json()["refresh_token"]
        return rotate
    if name == "login":
        turn = [0]

        def login() -> None:
            turn[0] += 1
            browser_login(app, users[turn[0] % len(users)])
        return login
    raise SystemExit(f"unknown scenario {name!r}")


def _secret_pair() -> dict[str, str]:
    return {"client_id": LOGIN_CLIENT["client_id"], "secret": LOGIN_CLIENT["client_secret"]}


def count_sql(app: Flask, call: Call, count: int = 20) -> tuple[float, float]:
    """SQL statements and commits per call: a figure no other load on the machine can blur."""
    from sqlalchemy import event

    engine = app.extensions["campus_id"].engine
    seen = {"statements": 0, "commits": 0}

    def statement(*_: Any) -> None:
        seen["statements"] += 1

    def commit(*_: Any) -> None:
        seen["commits"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        for _ in range(count):
            call()
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    return seen["statements"] / count, seen["commits"] / count


def measure(call: Call, count: int) -> float:
    """CPU seconds per call of this thread (the directory and database run elsewhere)."""
    started, wall = time.thread_time(), time.perf_counter()
    for _ in range(count):
        call()
    print(f"  wall {(time.perf_counter() - wall) / count * 1e6:,.0f} µs per request", file=sys.stderr)
    return (time.thread_time() - started) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("-n", "--count", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="print where the CPU time goes")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime)")
    parser.add_argument("--lines", type=int, default=45)
    args = parser.parse_args(argv)

    from idp.app import create_app
    from idp.settings.load import load_settings
    from idp.storage.base import make_engine
    from idp.storage.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="campus-profile-") as tmp, throwaway_postgres() as db_url:
        stack = ProviderStack(Path(tmp), port=free_port(), clients=bench_clients(), database_url=db_url)
        try:
            stack.start_directories()
            stack.write_config()
            settings = load_settings(stack.config_path)
            engine = make_engine(settings.database.url)
            upgrade(engine)
            engine.dispose()
            app = create_app(settings)
            app.config["CAMPUS_ISSUER"] = settings.server.issuer
            call = scenario(app, args.scenario)
            measure(call, min(50, args.count))  # warm-up: caches, pools, imports
            statements, commits = count_sql(app, call)
            if args.profile:
                # CPU time, not wall time: waits on PostgreSQL or slapd overlap under load.
                profiler = cProfile.Profile(time.thread_time)
                profiler.enable()
                per_call = measure(call, args.count)
                profiler.disable()
                pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
            else:
                per_call = measure(call, args.count)
        finally:
            stack.stop()
    print(f"{args.scenario}: {per_call * 1e6:,.0f} µs CPU per request in the provider's process "
          f"({1 / per_call:,.0f} requests per second per core, before the HTTP server's own share); "
          f"{statements:g} SQL statements and {commits:g} commits per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
