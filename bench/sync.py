"""The directory sync at city scale: a generated slapd of N people (default 100,000, see
``bench.directory_data``) synced by the code ``idp directory sync`` runs, on SQLite and
PostgreSQL: accounts per second of the first full sync (every account and identity created,
the SNILS link rule applied, a library grant for every student), of a second full sync with
nothing changed, and the seconds of an incremental sync with nothing changed.

    .venv/bin/python -m bench.sync [--entries N] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import AbstractContextManager
from typing import Any

from bench.directory_data import DEFAULT_ENTRIES, ORGANIZATION, BenchDirectory, running_directory
from demo.throwaway_db import throwaway_database
from idp.directory.ldap import LdapDirectory
from idp.provisioning.sync import sync_organization
from idp.settings import Settings
from idp.settings.load import parse_settings
from idp.storage.base import make_engine, make_session_factory
from idp.storage.migrate import upgrade

POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def bench_settings(directory: BenchDirectory, database_url: str) -> Settings:
    problems: list[str] = []
    settings = parse_settings({
        "server": {"issuer": "https://id.bench.test", "dev_mode": True, "secret_key": "b" * 40},
        "database": {"url": database_url},
        "organizations": {ORGANIZATION: directory.config()},
        "linking": {"rules": {"snils": {"match": ["snils"], "action": "link"}}},
        "access": {
            "resources": {"library": {"name": "Library", "name_ru": "Библиотека", "kind": "library"}},
            "policies": {"students": {"resources": ["library"], "affiliations": ["student"],
                                      "grace_days": 30}},
        },
    }, problems)
    if problems:
        raise SystemExit("bench settings: " + "; ".join(problems))
    return settings


def measure(directory: BenchDirectory, database_url: str) -> dict[str, Any]:
    settings = bench_settings(directory, database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    ldap_directory = LdapDirectory(ORGANIZATION, settings.organizations[ORGANIZATION].directory)
    figures: dict[str, Any] = {}
    try:
        for name, full in (("first full sync", True), ("second full sync, nothing changed", True),
                           ("incremental sync, nothing changed", False)):
            started = time.perf_counter()
            result = sync_organization(sessions, settings, ldap_directory, full=full)
            seconds = time.perf_counter() - started
            figures[name] = {**result.as_json(), "seconds": round(seconds, 2),
                             "accounts_per_s": round(result.seen / seconds) if full else None}
    finally:
        ldap_directory.close()
        engine.dispose()
    return figures


def throwaway_postgres() -> AbstractContextManager[str]:
    return throwaway_database(POSTGRES_ADMIN, "campus_id_bench_sync")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=DEFAULT_ENTRIES)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"entries": args.entries, "cores": os.cpu_count()}
    with running_directory(args.entries) as directory:
        report["slapd_load_s"] = round(directory.server.loaded_in_s, 1)
        if args.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory(prefix="campus-bench-sync-") as tmp:
                report["sqlite"] = measure(directory, f"sqlite:///{tmp}/idp.sqlite3")
        if args.backend in ("postgres", "both"):
            with throwaway_postgres() as url:
                report["postgres"] = measure(directory, url)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
