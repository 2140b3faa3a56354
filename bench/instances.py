"""Logins per second through nginx in front of three `idp serve` instances, as
docs/deployment.md runs them (demo.cluster: deploy/nginx/campus-id.conf over TLS, one
PostgreSQL database, Redis for the login throttle, the demo directories on a real slapd).

    .venv/bin/python -m bench.instances [--seconds 10] [--instances 3] [--workers 1]

Whole browserless logins (authorize showing the login form, form post with an LDAP bind
answered with the code, token), driven by bench/load.mjs in a process of its own, at two
concurrencies through nginx, then at the lower one straight to a single instance (plain
http, no nginx) for comparison. Prints logins/s and p50/p99; asserts nothing: the figures are this machine's.
Environment: ``BENCH_POSTGRES_URL`` (an admin URL for a throwaway database) and
``BENCH_REDIS_URL`` as for ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from demo import people
from demo.cluster import Cluster
from demo.throwaway_db import throwaway_database

HERE = Path(__file__).parent
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIRECT_URI = "https://127.0.0.1:9/cb"
CLIENT = {"client_id": "bench-web", "client_secret": "bench-web-secret-0123456789abcdef"}
CONCURRENCY = (16, 48)


def login_users() -> list[dict[str, str]]:
    """Every demo person who can log in (disabled accounts left out)."""
    return [{"organization": r["organization"], "username": r["username"],
             "password": r["password"]}
            for r in people.roster() if "disabled" not in r.get("note", "")]


def load(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(["node", str(HERE / "load.mjs"), json.dumps(spec)], capture_output=True,
                          text=True, check=False, timeout=spec["seconds"] + 120)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "10")))
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="[server] workers per instance")
    args = parser.parse_args()
    if shutil.which("node") is None:
        print("node is needed for the load generator (scripts/install-system.sh installs it)",
              file=sys.stderr)
        return 1
    clients = {CLIENT["client_id"]: {
        "name": "Benchmark web app", "redirect_uris": [REDIRECT_URI], "trusted": True,
        "client_secret": CLIENT["client_secret"]}}
    # No throttle counts: every login here is a right password (a failure would show as error).
    extra: dict[str, Any] = {"server": {"threads": 4}}
    if REDIS_URL:
        extra["throttle"] = {"redis_url": REDIS_URL,
                             "key_prefix": f"campus-id-bench:{os.getpid()}:"}
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="campus-instances-") as tmp, \
            throwaway_database(POSTGRES_ADMIN, "campus_id_bench") as url, \
            Cluster(Path(tmp), database_url=url, instances=args.instances,
                    workers=args.workers, clients=clients, extra_config=extra) as cluster:
        common = {"scenario": "login", "users": login_users(), "redirect_uri": REDIRECT_URI,
                  **CLIENT}
        through = {**common, "base": cluster.public, "ca_file": str(cluster.ca_file)}
        load({**through, "concurrency": 8, "seconds": min(3.0, args.seconds)})  # warm-up
        for concurrency in CONCURRENCY:
            result = load({**through, "concurrency": concurrency, "seconds": args.seconds})
            rows.append((f"{args.instances} instances via nginx (https)", concurrency, result))
            print(f"  measured {concurrency}: {result['rps']:.1f} logins/s", file=sys.stderr)
        direct = {**common, "base": f"http://{cluster.instance_address(0)}"}
        result = load({**direct, "concurrency": CONCURRENCY[0], "seconds": args.seconds})
        rows.append(("1 instance, no nginx (http)", CONCURRENCY[0], result))
    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print()
    print(f"Load average at the end (1, 5, 15 min): {load_average}: above the core count, "
          "other programs took part of the machine")
    print(f"Campus ID behind nginx: {os.cpu_count()} cores, {args.instances} instances of "
          f"{args.workers} worker(s) x 4 threads, PostgreSQL, {'Redis' if REDIS_URL else 'no Redis'}, "
          f"{args.seconds:g} s per measurement; whole logins (LDAP bind, code, token)")
    print(f"{'set-up':36} {'conc':>4} {'logins/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, concurrency, result in rows:
        print(f"{name:36} {concurrency:>4} {result['rps']:>9.1f} {result['p50_ms'] or 0:>8.0f} "
              f"{result['p99_ms'] or 0:>8.0f} {result['errors']:>7}")
        if result.get("first_error"):
            print(f"  first error: {result['first_error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
