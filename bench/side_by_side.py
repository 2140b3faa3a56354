"""``python -m bench.side_by_side``: Campus ID beside a peer, node-oidc-provider (bench/peer/),
under the same conditions, one table.

Both servers run at once, each bound to the same CPU with taskset (Campus ID: ``idp serve`` and
its directories' slapd; the peer: one Node process); every load generator is bound to a second
CPU (wrk
with one thread and BENCH_CONCURRENCY connections, default 16; whole logins by the Node
generators). Each row is measured on Campus ID, then on the peer, each after a warm-up, so a
burst of other work on the machine is less likely to land on one side only. The ratio is
Campus ID's rate over the peer's.

What differs and cannot be made equal: Campus ID keeps its tokens, sessions and codes in
PostgreSQL (not bound to a CPU) and checks each password by a bind to slapd; the peer keeps
everything in its process's memory and its development login takes any name without a password.

Environment knobs: ``BENCH_SECONDS`` (per measurement, default 8), ``BENCH_CONCURRENCY``
(default 16), ``BENCH_WORKERS`` (Campus ID's serving workers on its one CPU, default 1),
``BENCH_ENGINE`` (``[server] engine``; empty: the provider's default), ``BENCH_ROUNDS`` (default
1: with more, every row is measured that many times on each side, alternately, and the table
keeps each side's best: other work on the machine only ever lowers a figure),
``BENCH_ROWS`` (words separated by commas: only the rows whose name has one, e.g. ``login``),
``BENCH_POSTGRES_URL`` as for ``python -m bench``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import peer, wrk
from bench.__main__ import (
    HERE,
    LOGIN_CLIENT,
    REDIRECT_URI,
    SECONDS,
    bench_clients,
    login_users,
    throwaway_postgres,
)
from bench.peer import PeerServer, Request, pinned
from demo.slapd import free_port
from demo.stack import ProviderStack

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
ENGINE = os.environ.get("BENCH_ENGINE", "")  # empty: the provider's default
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
ONLY = [word.strip() for word in os.environ.get("BENCH_ROWS", "").split(",") if word.strip()]
_CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPU, LOAD_CPU = (_CPUS[0], _CPUS[1]) if len(_CPUS) >= 2 else (None, None)
WARM_UP_S = min(2.0, SECONDS)

Measure = Callable[[float], dict[str, Any]]


@dataclass
class Row:
    name: str
    ours: dict[str, Any]
    theirs: dict[str, Any]


class PinnedStack(ProviderStack):
    """Campus ID as ``python -m bench`` starts it, its processes bound to SERVER_CPU."""

    def idp_command(self) -> list[str]:
        return pinned(SERVER_CPU, super().idp_command())

    def start_directories(self) -> None:
        super().start_directories()
        for server in self.directories.values():
            if SERVER_CPU is not None and server._process is not None:
                os.sched_setaffinity(server._process.pid, {SERVER_CPU})


def run_wrk(base: str, request: Request, seconds: float) -> dict[str, Any]:
    """``bench.wrk.run`` with the same script and options, wrk bound to LOAD_CPU."""
    script = wrk.fixed_request_script(request.method, request.headers, request.form)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="campus-bench-") as lua:
        lua.write(script)
        lua.flush()
        done = subprocess.run(
            pinned(LOAD_CPU, ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{max(1, round(seconds))}s",
                              "--timeout", "10s", "-s", lua.name, base + request.path]),
            capture_output=True, text=True, check=False, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    ok = figures["requests"] - figures["errors"]
    result = {"requests": ok, "errors": figures["errors"], "first_error": None,
              "rps": ok / (figures["duration_us"] / 1e6), "p99_ms": figures["p99_us"] / 1000}
    if figures["errors"]:
        result["first_error"] = wrk.first_error(base, request.path, request.method, request.headers,
                                                request.form)
    return result


def fixed(base: str, request: Request) -> Measure:
    """A row of one fixed request; the first answer must be a success or the row is refused."""
    answer = peer.send(base, request)
    if answer.status_code != 200:
        raise RuntimeError(f"{base}{request.path}: {answer.status_code} {answer.text[:200]}")
    return lambda seconds: run_wrk(base, request, seconds)


def introspection(base: str, token_path: str, introspection_path: str) -> Measure:
    """The opaque client introspects a token of its own, taken just before each measurement
    (the peer's in-memory store keeps the last thousand things it stored)."""
    def measure(seconds: float) -> dict[str, Any]:
        token = peer.send(base, peer.client_credentials(token_path, peer.OPAQUE_CLIENT))
        token.raise_for_status()
        request = peer.introspection(introspection_path, peer.OPAQUE_CLIENT, token.json()["access_token"])
        answer = peer.send(base, request)
        if answer.status_code != 200 or answer.json().get("active") is not True:
            raise RuntimeError(f"{base}{introspection_path}: {answer.status_code} {answer.text[:200]}")
        return run_wrk(base, request, seconds)
    return measure


def path_of(url: str) -> str:
    return urlsplit(url).path


def rows_for(base: str, meta: dict[str, Any], login: Measure) -> list[tuple[str, Measure]]:
    """The same rows for either provider, its endpoints taken from its discovery document."""
    token_path = path_of(meta["token_endpoint"])
    rows: list[tuple[str, Callable[[], Measure]]] = [
        ("client credentials ES256 JWT",
         lambda: fixed(base, peer.client_credentials(token_path, peer.ES256_CLIENT))),
        ("client credentials opaque",
         lambda: fixed(base, peer.client_credentials(token_path, peer.OPAQUE_CLIENT))),
        ("introspection (opaque)",
         lambda: introspection(base, token_path, path_of(meta["introspection_endpoint"]))),
        ("discovery", lambda: fixed(base, Request("GET", "/.well-known/openid-configuration"))),
        ("jwks", lambda: fixed(base, Request("GET", path_of(meta["jwks_uri"])))),
        ("full login", lambda: login),
    ]
    return [(name, make()) for name, make in rows if not ONLY or any(word in name for word in ONLY)]


def campus_logins(issuer: str) -> Measure:
    """bench/load.mjs's login scenario (Node, as the peer's driver is), bound to LOAD_CPU."""
    def measure(seconds: float) -> dict[str, Any]:
        spec = {"base": issuer, "seconds": seconds, "scenario": "login", "concurrency": CONCURRENCY,
                "users": login_users(), "redirect_uri": REDIRECT_URI, **LOGIN_CLIENT}
        done = subprocess.run(pinned(LOAD_CPU, ["node", str(HERE / "load.mjs"), json.dumps(spec)]),
                              capture_output=True, text=True, check=False, timeout=seconds + 120)
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed: {done.stderr.strip()[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    return measure


def peer_logins(base: str) -> Measure:
    users = [user["username"] for user in login_users()]
    return lambda seconds: peer.run_logins(peer.login_spec(base, CONCURRENCY, seconds, users), LOAD_CPU)


def measure_row(measure: Measure) -> dict[str, Any]:
    measure(WARM_UP_S)
    result = measure(SECONDS)
    time.sleep(0.5)
    return result


def best(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    return second if second["rps"] > first["rps"] else first


def print_table(rows: list[Row]) -> None:
    pin = (f"servers bound to CPU {SERVER_CPU}, load generators to CPU {LOAD_CPU}" if SERVER_CPU is not None
           else "one CPU: nothing bound")
    print()
    print(f"Campus ID beside node-oidc-provider {peer.version()} (Node {node_version()}): {pin}; "
          f"wrk -t1 -c{CONCURRENCY}, {SECONDS:g} s per measurement after a {WARM_UP_S:g} s warm-up"
          + (f", best of {ROUNDS} rounds" if ROUNDS > 1 else ""))
    print(f"Campus ID: idp serve ({campus_engine()}), {WORKERS} worker(s), PostgreSQL, passwords checked "
          "by a bind to slapd. "
          "Peer: one Node process, in-memory storage, development login (no password check).")
    print("ratio = Campus ID req/s / peer req/s (full login: logins/s; three requests at Campus ID, "
          "five at the peer)")
    print()
    print(f"{'row':29} {'Campus ID/s':>11} {'p99 ms':>8} {'peer/s':>9} {'p99 ms':>8} {'ratio':>6}")

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    for row in rows:
        ratio = row.ours["rps"] / row.theirs["rps"] if row.theirs["rps"] else float("nan")
        print(f"{row.name:29} {row.ours['rps']:>11,.0f} {ms(row.ours['p99_ms']):>8} "
              f"{row.theirs['rps']:>9,.0f} {ms(row.theirs['p99_ms']):>8} {ratio:>6.2f}")
    for row in rows:
        for side, result in (("Campus ID", row.ours), ("peer", row.theirs)):
            if result["errors"]:
                print(f"  {side}, {row.name}: {result['errors']} errors, first: {result['first_error']}")


def campus_engine() -> str:
    from idp.settings.model import ServerSettings

    return ENGINE or str(getattr(ServerSettings, "engine", "gunicorn"))


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def main() -> int:
    for tool in ("node", "wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is needed (scripts/install-system.sh installs it)", file=sys.stderr)
            return 1
    if not peer.installed():
        print("bench/peer/node_modules is missing: run `make bench`", file=sys.stderr)
        return 1
    clients = bench_clients()
    clients[LOGIN_CLIENT["client_id"]]["id_token_signed_response_alg"] = "ES256"  # as the peer's
    with tempfile.TemporaryDirectory(prefix="campus-bench-") as tmp, throwaway_postgres() as db_url:
        stack = PinnedStack(Path(tmp), port=free_port(), clients=clients, workers=WORKERS,
                            database_url=db_url,
                            extra_config={"server": {"engine": ENGINE}} if ENGINE else None)
        with stack, PeerServer(Path(tmp) / "peer.log", cpu=SERVER_CPU) as other:
            ours = rows_for(stack.issuer, peer.send(stack.issuer, Request(
                "GET", "/.well-known/openid-configuration")).json(), campus_logins(stack.issuer))
            theirs = rows_for(other.issuer, other.metadata(), peer_logins(other.issuer))
            rows: list[Row] = []
            for round_number in range(ROUNDS):
                for n, ((name, measure_ours), (_, measure_theirs)) in enumerate(
                        zip(ours, theirs, strict=True)):
                    row = Row(name, measure_row(measure_ours), measure_row(measure_theirs))
                    print(f"  round {round_number + 1}, {name}: Campus ID {row.ours['rps']:,.0f}/s, "
                          f"peer {row.theirs['rps']:,.0f}/s", file=sys.stderr)
                    if round_number == 0:
                        rows.append(row)
                    else:
                        rows[n] = Row(name, best(rows[n].ours, row.ours), best(rows[n].theirs, row.theirs))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
