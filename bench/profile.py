"""``python -m bench.profile SCENARIO``: the provider's own CPU cost per request, without a network.

The load benchmark measures what a client sees; this one answers "where does the time go": it
builds the app in this process over the demo directories and a throwaway PostgreSQL database,
calls the WSGI app directly N times and prints the CPU time per request and the SQL statements
and commits per request (a figure no other load on the machine can blur). With ``--profile`` it
runs the same loop under cProfile timed by CPU time and prints the heaviest calls, which is how
the hot paths were found and trimmed.

Scenarios: healthz (the floor), discovery, jwks, cc-es256, cc-rs256, cc-opaque, introspection,
introspection-cc-es256,
userinfo, refresh, login, or ``hot`` for the hot paths one after the other (cc-es256, refresh,
userinfo, introspection, login) in one process. ``introspection`` asks about a person's (stored)
access token, ``introspection-cc-es256`` about a service's self-contained JWT, checked by its
signature. ``login`` also prints the CPU of each of its three requests.

The figure is the median of ``--rounds`` rounds (the spread shows how much the machine's other
work blurred it): CPU time is charged to this thread alone, but a busy machine still slows the
caches and the clock it runs on.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import json
import pstats
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
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
from idp.storage import driver

Call = Callable[[], None]
CURRENT_STEP = ["-"]  # the request under way, named in --statements


def wsgi_call(app: Flask, method: str, path: str, *, headers: dict[str, str] | None = None,
              form: dict[str, str] | None = None, expect: int = 200) -> Call:
    """A prepared request, replayed without a client library in the way."""
    base = EnvironBuilder(path=path, method=method, headers=list((headers or {}).items()),
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


# CPU seconds of each step of the logins made so far (``login`` prints them per login).
STEPS: defaultdict[str, float] = defaultdict(float)
LOGIN_STEPS = ("authorize: the login form", "login post (LDAP bind, code)", "token, code")


class Answer:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def json(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


class RawBrowser:
    """A cookie jar over direct WSGI calls: only the app's own work falls in a timed step (a
    test client's request building and cookie handling cost as much as a small endpoint)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.host = urlsplit(app.config["CAMPUS_ISSUER"]).netloc
        self.cookies: dict[str, str] = {}

    def request(self, method: str, target: str, *, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, timed: str | None = None) -> Answer:
        path, _, query = target.partition("?")
        body = urlencode(form).encode() if form is not None else b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": self.host, "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        if form is not None:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        seen: list[Any] = []
        CURRENT_STEP[0] = timed or target
        started = time.thread_time()
        chunks = self.app(environ, lambda s, h, e=None: seen.extend((s, h)))  # type: ignore[arg-type]
        data = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        if timed:
            STEPS[timed] += time.thread_time() - started
        status, response_headers = seen
        for name, value in response_headers:
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                self.cookies[key.strip()] = val.strip()
        return Answer(int(status.split()[0]), response_headers, data)


def browser_login(app: Flask, user: dict[str, str],
                  scope: str = "openid profile email campus") -> dict[str, Any]:
    """authorize (the login form) -> post (the code at once) -> token, one fresh cookie jar
    per login."""
    web = RawBrowser(app)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": LOGIN_CLIENT["client_id"],
                       "redirect_uri": REDIRECT_URI, "scope": scope, "state": "s",
                       "nonce": secrets.token_urlsafe(8),
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    form_step, post_step, token_step = LOGIN_STEPS
    page = web.request("GET", f"/authorize?{query}", timed=form_step)
    text = page.body.decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', text)
    rid = re.search(r'name="rid" value="([^"]*)"', text)
    assert csrf and rid, (page.status, text[-1500:])
    response = web.request("POST", "/login", timed=post_step,
                           form={"csrf_token": csrf.group(1), "rid": rid.group(1), **user})
    code = parse_qs(urlsplit(response.header("Location")).query)["code"][0]
    # The relying party's server redeems the code: it has none of the browser's cookies (as
    # the benchmark's login drivers send it).
    token = RawBrowser(app).request("POST", "/token", timed=token_step,
                        headers=basic_of(LOGIN_CLIENT["client_id"], LOGIN_CLIENT["client_secret"]),
                        form={"grant_type": "authorization_code", "code": code,
                              "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert token.status == 200, token.body
    return token.json()


def basic_of(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def scenario(app: Flask, name: str) -> Call:
    users = login_users()
    if name == "healthz":  # the floor: a route that does nothing, through every middleware
        return wsgi_call(app, "GET", "/healthz")
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
        answer = RawBrowser(app).request("POST", "/token", headers=basic(client_id), form={
            "grant_type": "client_credentials", "scope": SERVICE_SCOPE})
        assert answer.status == 200, answer.body
        return wsgi_call(app, "POST", "/introspect", headers=basic(client_id),
                         form={"token": answer.json()["access_token"]})
    if name == "introspection":
        token = browser_login(app, users[0])["access_token"]
        return wsgi_call(app, "POST", "/introspect", headers=basic_of(**_secret_pair()),
                         form={"token": token})
    if name == "userinfo":
        token = browser_login(app, users[0])["access_token"]
        return wsgi_call(app, "GET", "/userinfo", headers={"Authorization": f"Bearer {token}"})
    if name == "refresh":
        chain = [browser_login(app, users[0], "openid offline_access")["refresh_token"]]
        web = RawBrowser(app)

        def rotate() -> None:
            response = web.request("POST", "/token", headers=basic_of(**_secret_pair()),
                                   form={"grant_type": "refresh_token", "refresh_token": chain[0]})
            assert response.status == 200, response.body
            chain[0] = response.json()["refresh_token"]
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


def count_sql(app: Flask, call: Call, count: int = 20, *,
              show: bool = False) -> tuple[float, float]:
    """SQL statements and commits per call: a figure no other load on the machine can blur.
    ``show``: print each one (of the request it came in, for a login)."""
    from sqlalchemy import event

    services = app.extensions["campus_id"]
    engines = [services.engine] + ([services.reads] if services.reads is not None else [])
    seen = {"statements": 0, "commits": 0}

    def shown(text: str) -> None:
        if show:
            print(f"  [{CURRENT_STEP[0]}] {' '.join(text.split())[:150]}")

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen["statements"] += 1
        shown(sql)

    def commit(*_: Any) -> None:
        seen["commits"] += 1
        shown("COMMIT")

    def past_sqlalchemy(kind: str, sql: str) -> None:  # idp.storage.driver's statements
        seen["statements" if kind == "statement" else "commits"] += 1
        shown(f"{sql or kind.upper()} (through the driver)")

    for engine in engines:  # the reads' engine too (idp.storage.base.make_read_engine)
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)
    driver.OBSERVERS.append(past_sqlalchemy)
    try:
        for _ in range(count):
            call()
    finally:
        driver.OBSERVERS.remove(past_sqlalchemy)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", statement)
            event.remove(engine, "commit", commit)
    return seen["statements"] / count, seen["commits"] / count


def count_calls(call: Call, count: int = 20) -> float:
    """Python function calls per call: like the SQL figures, blind to the machine's load."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        call()
    profiler.disable()
    total: int = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
    return total / count


def measure(call: Call, count: int) -> float:
    """CPU seconds per call of this thread (the directory and database run elsewhere)."""
    started = time.thread_time()
    for _ in range(count):
        call()
    return (time.thread_time() - started) / count


def measure_rounds(call: Call, count: int, rounds: int) -> list[float]:
    """CPU seconds per call in each of ``rounds`` rounds of ``count`` calls."""
    return [measure(call, count) for _ in range(rounds)]


def reference_cpu() -> float:
    """CPU microseconds of a fixed piece of pure Python (the best of five): how fast this
    machine runs Python just now, to set figures taken at different times side by side."""
    def work() -> float:
        started = time.thread_time()
        table: dict[int, int] = {}
        for i in range(20_000):
            table[i % 97] = table.get(i % 97, 0) + len(str(i))
        return time.thread_time() - started
    return min(work() for _ in range(5)) * 1e6


HOT = ("cc-es256", "refresh", "userinfo", "introspection", "login")


def run(app: Flask, name: str, args: argparse.Namespace) -> None:
    call = scenario(app, name)
    measure(call, min(50, args.count))  # warm-up: caches, pools, imports
    if args.statements:
        print(f"{name}: the statements of one call")
        count_sql(app, call, 1, show=True)
    statements, commits = count_sql(app, call)
    calls = count_calls(call)
    rounds = max(1, args.rounds)
    per_round = max(1, args.count // rounds)
    STEPS.clear()
    if args.profile:
        # CPU time, not wall time: waits on PostgreSQL or slapd overlap under load.
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        figures = measure_rounds(call, per_round, rounds)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
        if args.dump:
            profiler.dump_stats(args.dump)  # for pstats: who calls what (print_callers)
    else:
        figures = measure_rounds(call, per_round, rounds)
    per_call = statistics.median(figures)
    print(f"(reference: {reference_cpu():,.0f} µs)", end=" ")
    print(f"{name}: {per_call * 1e6:,.0f} µs CPU per request in the provider's process "
          f"(rounds {min(figures) * 1e6:,.0f}-{max(figures) * 1e6:,.0f}; "
          f"{1 / per_call:,.0f} requests per second per core, before the HTTP server's own share); "
          f"{statements:g} SQL statements and {commits:g} commits, {calls:,.0f} Python calls per request",
          flush=True)
    if name == "login":
        logins = per_round * rounds
        for part in LOGIN_STEPS:
            print(f"  {part}: {STEPS[part] / logins * 1e6:,.0f} µs", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="+", help="one or more, or hot for the hot paths")
    parser.add_argument("-n", "--count", type=int, default=500, help="requests per scenario")
    parser.add_argument("--rounds", type=int, default=5, help="rounds the count is split into")
    parser.add_argument("--profile", action="store_true", help="print where the CPU time goes")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime)")
    parser.add_argument("--lines", type=int, default=45)
    parser.add_argument("--statements", action="store_true",
                        help="print the SQL statements and commits of one call first")
    parser.add_argument("--dump", metavar="FILE", help="with --profile: keep the profile for pstats")
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
            for name in [n for given in args.scenario for n in (HOT if given == "hot" else (given,))]:
                run(app, name, args)
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
