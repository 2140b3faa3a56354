"""``make bench``: the provider as production runs it (its default engine, granian; workers =
cores, PostgreSQL), over a real slapd, driven by a load generator in a process of its own;
prints one table. Before it, both serving engines (granian, gunicorn) side by side on one
worker bound to CPU 0, wrk bound to CPU 1: the empty Flask route and client credentials.

Figures are this machine's: the table starts with its raw signing rate per core so each token
figure can be read as a fraction of that limit. Environment knobs: ``BENCH_SECONDS`` (per
measurement, default 8), ``BENCH_POSTGRES_URL`` (an admin URL for a throwaway database),
``BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/0; empty to run without Redis),
``BENCH_THREADS`` (``[server] threads`` of every server measured, default 2, the provider's),
``BENCH_ROWS`` (words separated by commas: only the rows whose name has one, e.g. ``login``;
``floor`` for the floors, ``engine`` for the engines side by side).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench import wrk
from bench.signing import signing_rates
from demo import people
from demo.slapd import free_port
from demo.stack import ProviderStack, wait_until_answering
from demo.throwaway_db import throwaway_database
from idp.settings.model import ServerEngine

HERE = Path(__file__).parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIRECT_URI = "http://127.0.0.1:9/cb"
LOGIN_CLIENT = {"client_id": "bench-web", "client_secret": "bench-web-secret-0123456789abcdef"}
SERVICE_SCOPE = "bench.read"
SERVICES = {  # client credentials clients: access token format and signing algorithm
    "client credentials ES256 JWT": ("bench-cc-es256", "jwt", "ES256"),
    "client credentials RS256 JWT": ("bench-cc-rs256", "jwt", "RS256"),
    "client credentials opaque": ("bench-cc-opaque", "opaque", "RS256"),
}
CONCURRENCY = (16, 64)
THREADS = int(os.environ.get("BENCH_THREADS", "2"))  # [server] threads; 2 is its default
ONLY = [word.strip() for word in os.environ.get("BENCH_ROWS", "").split(",") if word.strip()]
FLOORS = {"floor: empty WSGI app": "app", "floor: empty Flask route": "flask_app"}
DEFAULT_ENGINE = ServerEngine.GRANIAN  # what `idp serve` runs without [server] engine
ENGINES = (ServerEngine.GRANIAN, ServerEngine.GUNICORN)
SERVER_CPU, LOAD_CPU = (0, 1) if (os.cpu_count() or 1) >= 2 else (None, None)
ENGINE_ROW = "client credentials ES256 JWT"  # the engines are compared on it and on the floor


@dataclass
class Row:
    name: str
    concurrency: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    first_error: str | None
    request_p99_ms: float | None = None  # of each HTTP request, where a row makes several


def throwaway_postgres() -> AbstractContextManager[str]:
    return throwaway_database(POSTGRES_ADMIN, "campus_id_bench")


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement from a separate process, as a client would make it: wrk for fixed
    requests, refresh chains and whole logins (bench/wrk.py says how)."""
    kind, base, concurrency = spec["scenario"], spec["base"], spec["concurrency"]
    if kind == "login":
        return wrk.login(spec)
    headers = spec.get("headers", {})
    if kind == "refresh":
        # One chain per connection, and one more: wrk calls request() once before it starts, to
        # check the script, and that token is never sent.
        tokens = [login_once(base, spec["users"][n % len(spec["users"])], "openid offline_access")
                  ["refresh_token"] for n in range(concurrency + 1)]
        script = wrk.refresh_script(tokens, basic(spec["client_id"])["authorization"])
        return wrk.run(base, "/token", script, concurrency, spec["seconds"])
    method, form = ("POST", spec["form"]) if kind == "form" else ("GET", None)
    result = wrk.run(base, spec["path"], wrk.fixed_request_script(method, headers, form),
                     concurrency, spec["seconds"])
    if result["errors"]:
        result["first_error"] = wrk.first_error(base, spec["path"], method, headers, form)
    return result


def login_once(issuer: str, user: dict[str, str],
               scope: str = "openid profile email campus") -> dict[str, Any]:
    """One login the way a browser does it, for the tokens the other scenarios need."""
    import base64
    import hashlib
    import secrets

    web = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": LOGIN_CLIENT["client_id"], "redirect_uri": REDIRECT_URI,
              "scope": scope, "state": "s", "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
              "code_challenge_method": "S256"}
    page = web.get(f"{issuer}/authorize", params=params, allow_redirects=False, timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    rid = re.search(r'name="rid" value="([^"]*)"', page.text)
    assert csrf and rid, page.text[:300]
    response = web.post(f"{issuer}/login", allow_redirects=False, timeout=10, data={
        "csrf_token": csrf.group(1), "rid": rid.group(1), "organization": user["organization"],
        "username": user["username"], "password": user["password"]})
    code = re.search(r"[?&]code=([^&]+)", response.headers.get("Location", ""))
    assert code, response.text[:300]
    token = requests.post(f"{issuer}/token", timeout=10, auth=(LOGIN_CLIENT["client_id"],
                          LOGIN_CLIENT["client_secret"]), data={
        "grant_type": "authorization_code", "code": code.group(1), "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier})
    token.raise_for_status()
    body: dict[str, Any] = token.json()
    return body


def login_users() -> list[dict[str, str]]:
    """Every demo person who can log in (disabled accounts left out)."""
    return [{"organization": r["organization"], "username": r["username"], "password": r["password"]}
            for r in people.roster() if "disabled" not in r.get("note", "")]


def secret_of(client_id: str) -> str:
    return f"{client_id}-secret-0123456789abcdef"


def basic(client_id: str) -> dict[str, str]:
    import base64

    pair = f"{client_id}:{secret_of(client_id)}".encode()
    return {"authorization": "Basic " + base64.b64encode(pair).decode()}


def bench_clients() -> dict[str, Any]:
    clients: dict[str, Any] = {LOGIN_CLIENT["client_id"]: {
        "name": "Benchmark web app", "redirect_uris": [REDIRECT_URI], "trusted": True,
        "client_secret": LOGIN_CLIENT["client_secret"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email", "campus", "offline_access"]}}
    for client_id, token_format, alg in SERVICES.values():
        clients[client_id] = {
            "name": client_id, "grant_types": ["client_credentials"], "client_secret": secret_of(client_id),
            "scopes": [SERVICE_SCOPE], "access_token_format": token_format,
            "id_token_signed_response_alg": alg}
    return clients


def scenarios(issuer: str, meta: dict[str, Any]) -> list[tuple[str, Callable[[int], dict[str, Any]]]]:
    """(name, spec for a concurrency) for everything the provider advertises."""
    users = login_users()
    token = login_once(issuer, users[0])["access_token"]
    common = {"base": issuer, "seconds": SECONDS}
    found: list[tuple[str, Callable[[int], dict[str, Any]]]] = []
    for name, (client_id, _, _) in SERVICES.items():
        found.append((name, _client_credentials(common, client_id)))
    found += [
        ("refresh (rotation)", lambda c: {**common, "scenario": "refresh", "concurrency": c,
                                          "users": users, "redirect_uri": REDIRECT_URI, **LOGIN_CLIENT}),
        ("introspection", lambda c: {**common, "scenario": "form", "concurrency": c,
                                     "path": "/introspect", "headers": basic(LOGIN_CLIENT["client_id"]),
                                     "form": {"token": token}}),
        ("discovery", lambda c: {**common, "scenario": "get", "concurrency": c,
                                 "path": "/.well-known/openid-configuration"}),
        ("jwks", lambda c: {**common, "scenario": "get", "concurrency": c, "path": "/jwks"}),
        ("userinfo", lambda c: {**common, "scenario": "get", "concurrency": c, "path": "/userinfo",
                                "headers": {"authorization": f"Bearer {token}"}}),
        ("full login (LDAP bind)", lambda c: {**common, "scenario": "login", "concurrency": c,
                                              "users": users, "redirect_uri": REDIRECT_URI,
                                              **LOGIN_CLIENT}),
    ]
    return found


def _client_credentials(common: dict[str, Any], client_id: str) -> Callable[[int], dict[str, Any]]:
    """The spec of a service's client credentials request, for a concurrency."""
    def spec(concurrency: int) -> dict[str, Any]:
        return {**common, "scenario": "form", "concurrency": concurrency, "path": "/token",
                "headers": basic(client_id),
                "form": {"grant_type": "client_credentials", "scope": SERVICE_SCOPE}}
    return spec


def worker_memory(master_pid: int) -> list[int]:
    """Resident memory (KiB) of each worker: the children of the server's main process."""
    sizes = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", text, re.MULTILINE)
        rss = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
        if ppid and rss and int(ppid.group(1)) == master_pid:
            sizes.append(int(rss.group(1)))
    return sizes


def print_table(rates: dict[str, float], rows: list[Row], memory: list[int], workers: int) -> None:
    print()
    print(f"Campus ID benchmark: {os.cpu_count()} cores, {DEFAULT_ENGINE} workers = {workers} "
          f"of {THREADS} threads, PostgreSQL, {'Redis' if REDIS_URL else 'no Redis'}, "
          f"{SECONDS:g} s per measurement")
    print("Raw signing rate, one core: " + ", ".join(f"{alg} {rate:,.0f}/s" for alg, rate in rates.items()))
    print("Load generator: wrk in a process of its own, with one thread for every row but full logins, "
          "which it drives with one thread per connection (a cookie to keep, a form to read).")
    print("The floor rows are apps that do nothing (bare WSGI; one Flask route) behind the same "
          f"{DEFAULT_ENGINE} set-up, under wrk: no endpoint can beat them on this machine.")
    print()
    print(f"{'endpoint':29} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for row in rows:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"
        print(f"{row.name:29} {row.concurrency:>4} {row.rps:>9,.0f} {ms(row.p50_ms):>8} "
              f"{ms(row.p99_ms):>8} {row.errors:>7}")
    for row in rows:
        if row.request_p99_ms is not None:
            print(f"  {row.name} at {row.concurrency}: p99 of each of its HTTP requests "
                  f"{row.request_p99_ms:.1f} ms (a whole login's latency is about "
                  f"{row.concurrency} / its rate)")
    errors = [r for r in rows if r.first_error]
    for row in errors:
        print(f"  first error in {row.name} at {row.concurrency}: {row.first_error}")
    if memory:
        print()
        print("Resident memory per worker: " + ", ".join(f"{kib / 1024:.0f} MiB" for kib in memory))


def pinned(cpu: int | None, command: list[str]) -> list[str]:
    """``command`` bound to one CPU with taskset; unbound when ``cpu`` is None."""
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


@contextmanager
def load_on(cpu: int | None) -> Iterator[None]:
    """This process, and the load generators it starts meanwhile, bound to ``cpu``."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextmanager
def floor_server(app: str, engine: ServerEngine, workers: int, threads: int, log: Path,
                 cpu: int | None = None) -> Iterator[str]:
    """An app of bench.floor served as the provider is (``idp.web.serve.run_app``)."""
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            pinned(cpu, [sys.executable, "-m", "bench.floor", engine.value, app, str(port),
                         str(workers), str(threads)]),
            cwd=HERE.parent, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base, process, timeout_s=60,
                             why=lambda: log.read_text(errors="replace")[-2000:])
        yield base
    finally:
        process.terminate()
        process.wait(20)


class PinnedStack(ProviderStack):
    """The provider with `idp serve` and its directories' slapd bound to ``cpu``."""

    def __init__(self, *args: Any, cpu: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cpu = cpu

    def idp_command(self) -> list[str]:
        return pinned(self.cpu, super().idp_command())

    def start_directories(self) -> None:
        super().start_directories()
        for server in self.directories.values():
            if self.cpu is not None and server._process is not None:
                os.sched_setaffinity(server._process.pid, {self.cpu})


def measured(name: str, spec: dict[str, Any], concurrency: int) -> Row:
    """A warm-up, then one measurement (wrk on LOAD_CPU)."""
    with load_on(LOAD_CPU):
        measure({**spec, "concurrency": concurrency, "seconds": min(2.0, SECONDS)})
        result = measure({**spec, "concurrency": concurrency})
    return Row(name, concurrency, result["rps"], result["p50_ms"], result["p99_ms"],
               result["errors"], result["first_error"])


def engines_side_by_side(tmp: Path, db_url: str, clients: dict[str, Any]) -> list[tuple[str, Row]]:
    """The floor and ENGINE_ROW under each engine, one worker of THREADS threads on SERVER_CPU,
    wrk on LOAD_CPU, 16 connections: (engine, row) pairs."""
    pairs: list[tuple[str, Row]] = []
    floor_spec = {"seconds": SECONDS, "scenario": "get", "path": "/"}
    for engine in ENGINES:
        with floor_server("flask_app", engine, 1, THREADS, tmp / f"floor-{engine}.log",
                          SERVER_CPU) as base:
            row = measured("floor: empty Flask route", {**floor_spec, "base": base}, 16)
            pairs.append((engine.value, row))
    client_id = SERVICES[ENGINE_ROW][0]
    for engine in ENGINES:
        # The main table's directory too: its secret key unseals the signing keys made first.
        stack = PinnedStack(tmp, port=free_port(), clients=clients, workers=1,
                            database_url=db_url, extra_config={"server": {"engine": engine.value}},
                            cpu=SERVER_CPU)
        with stack:
            spec = {"base": stack.issuer, "seconds": SECONDS, "scenario": "form", "path": "/token",
                    "headers": basic(client_id),
                    "form": {"grant_type": "client_credentials", "scope": SERVICE_SCOPE}}
            pairs.append((engine.value, measured(ENGINE_ROW, spec, 16)))
        print(f"  measured the engines on {ENGINE_ROW} with {engine}", file=sys.stderr)
    return pairs


def print_engines(pairs: list[tuple[str, Row]]) -> None:
    print()
    print(f"Serving engines side by side: one worker of {THREADS} threads bound to CPU {SERVER_CPU}, "
          f"wrk (one thread) bound to CPU {LOAD_CPU}, 16 connections; req/s (p99 ms)")
    names = list(dict.fromkeys(row.name for _, row in pairs))
    print(f"{'endpoint':29} " + " ".join(f"{engine.value:>18}" for engine in ENGINES) + "   ratio")
    for name in names:
        by_engine = {engine: row for engine, row in pairs if row.name == name}
        cells = []
        for engine in ENGINES:
            row = by_engine.get(engine.value)
            cells.append("-" if row is None else f"{row.rps:,.0f} ({row.p99_ms or 0:.1f})"
                         + (f" {row.errors} err" if row.errors else ""))
        first, second = (by_engine.get(engine.value) for engine in ENGINES)
        ratio = f"{first.rps / second.rps:.2f}x" if first and second and second.rps else "-"
        print(f"{name:29} " + " ".join(f"{cell:>18}" for cell in cells) + f"   {ratio:>5}")


def wanted(name: str) -> bool:
    """Whether ``BENCH_ROWS`` asks for the row ``name`` (every row without it)."""
    return not ONLY or any(word in name for word in ONLY)


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is needed for the load generator (scripts/install-system.sh installs it)",
              file=sys.stderr)
        return 1
    rates = signing_rates()
    workers = os.cpu_count() or 2
    clients = bench_clients()
    with tempfile.TemporaryDirectory(prefix="campus-bench-") as tmp, throwaway_postgres() as db_url:
        pairs = engines_side_by_side(Path(tmp), db_url, clients) if wanted("engines") else []
        rows: list[Row] = []
        for floor_name, floor_app in FLOORS.items():
            if not wanted(floor_name):
                continue
            with floor_server(floor_app, DEFAULT_ENGINE, workers, THREADS, Path(tmp) / "floor.log") as floor:
                spec = {"base": floor, "seconds": SECONDS, "scenario": "get", "path": "/"}
                measure({**spec, "concurrency": 16, "seconds": min(2.0, SECONDS)})
                for concurrency in CONCURRENCY:
                    result = measure({**spec, "concurrency": concurrency})
                    rows.append(Row(floor_name, concurrency, result["rps"], result["p50_ms"],
                                    result["p99_ms"], result["errors"], result["first_error"]))
        stack = ProviderStack(Path(tmp), port=free_port(), clients=clients, workers=workers,
                              database_url=db_url, extra_config={"server": {"threads": THREADS}})
        with stack:
            assert stack.process is not None
            meta = requests.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=5).json()
            for name, spec_for in scenarios(stack.issuer, meta):
                if not wanted(name):
                    continue
                measure({**spec_for(16), "seconds": min(2.0, SECONDS)})  # warm-up
                for concurrency in CONCURRENCY:
                    result = measure(spec_for(concurrency))
                    rows.append(Row(name, concurrency, result["rps"], result["p50_ms"],
                                    result["p99_ms"], result["errors"], result["first_error"],
                                    result.get("request_p99_ms")))
                    print(f"  measured {name} at {concurrency}: {result['rps']:,.0f}/s", file=sys.stderr)
                    time.sleep(0.5)
            memory = worker_memory(stack.process.pid)
    print_table(rates, rows, memory, workers)
    if pairs:
        print_engines(pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
