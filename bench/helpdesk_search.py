"""The helpdesk's search on a city's worth of people: the generated PostgreSQL data set of
``bench.helpdesk_data`` (200,000 campus identities by default) in a throwaway database; then
search p50/p99 for each kind of query the console's box takes, as the console runs it
(``idp.linking.console``: the search and each result's line), and the person page's time;
beside each, the SQL statements it ran on average (a figure the machine's load leaves alone).

    .venv/bin/python -m bench.helpdesk_search [--identities N] [--queries N] [--explain]
                                              [--keep-data-set] [--drop-kept]

``BENCH_POSTGRES_URL``: an admin URL for the throwaway database. ``--explain`` prints the
query plan (EXPLAIN ANALYZE) of one query of each kind slower than the 50 ms target at p99.
``--keep-data-set`` keeps the loaded data set as a template database on the server (named by
the generator's version, the number of identities and the schema's revision) and starts the
next run with it from a copy, in seconds; ``--drop-kept`` drops the kept data sets and exits.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.helpdesk_data import ORGS, SECRET, Person, data_set, drop_kept, latin, person
from idp.linking import console
from idp.linking.helpdesk import HelpdeskScope
from idp.provisioning.card_numbers import grouped
from idp.settings import Settings
from idp.settings.load import parse_settings
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import Identity

POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IDENTITIES = 200_000
QUERIES = 200  # of each kind
TARGET_MS = 50.0


def bench_settings(database_url: str) -> Settings:
    problems: list[str] = []
    directory = {"type": "ldap", "uris": ["ldaps://ldap.bench.test"], "base_dn": "dc=bench"}
    settings = parse_settings({
        "server": {"issuer": "https://id.bench.test", "dev_mode": True, "secret_key": SECRET},
        "database": {"url": database_url},
        "organizations": {org: {"name": org.upper(), "scope": scope, "directory": directory}
                          for org, scope in ORGS.items()},
        "linking": {"rules": {"snils": {"match": ["snils"], "action": "link"}}},
    }, problems)
    if problems:
        raise SystemExit("bench settings: " + "; ".join(problems))
    return settings


def queries(count: int, n: int, seed: int = 7) -> dict[str, list[str]]:
    """``n`` queries of each kind, for people of the data set of ``count``."""
    rng = random.Random(seed)
    sample = [person(rng.randrange(1, count + 1)) for _ in range(n)]

    def typo(word: str) -> str:
        at = rng.randrange(1, len(word) - 1)
        return word[:at] + word[at + 1:]

    with_card: list[Person] = []
    while len(with_card) < n:
        if (p := person(rng.randrange(1, count + 1))).card:
            with_card.append(p)
    return {
        "Cyrillic name": [f"{p.family} {p.given}" for p in sample],
        "Cyrillic name, other order, ё": [f"{p.given.lower()} {p.family.lower().replace('е', 'ё')}"
                                          for p in sample],
        "Latin name": [f"{latin(p.given)} {latin(p.family)}" for p in sample],
        "Latin family name": [latin(p.family) for p in sample],
        "one typo": [f"{typo(p.family)} {p.given}" for p in sample],
        "username": [p.accounts[0].username for p in sample],
        "username@scope": [f"{p.accounts[0].username}@{ORGS[p.accounts[0].organization]}"
                           for p in sample],
        "email": [f"{p.accounts[0].username}@{ORGS[p.accounts[0].organization]}".upper()
                  for p in sample],
        "campus id": [p.campus_id for p in sample],
        "card number": [grouped(p.card or "") for p in with_card],
        "SNILS": [f"{p.snils[:3]}-{p.snils[3:6]}-{p.snils[6:9]} {p.snils[9:]}" for p in sample],
        "sub": [p.sub for p in sample],
    }


def timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


Row = tuple[str, float, float, float, float]  # kind, p50, p99, found, statements per query


def measure(engine: Engine, settings: Settings, count: int, n: int,
            explain: bool) -> list[Row]:
    """Each kind's times; and its SQL statements per query, which the machine's load does
    not change."""
    sessions = make_session_factory(engine)
    everywhere = HelpdeskScope(None)
    rows: list[Row] = []
    statements = [0]

    def counted(*_: Any) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", counted)
    with sessions() as db:
        for kind, qs in [*queries(count, n).items(), ("person page", [])]:
            found: list[int] = []
            times = []
            statements[0] = 0
            for q in qs:
                def run(q: str = q, found: list[int] = found) -> None:
                    found.append(len(console.search(db, q, settings=settings, scope=everywhere)))
                times.append(timed(run))
                db.rollback()
                db.expunge_all()
            for identity_id in random.Random(3).sample(range(1, count + 1), n) if not qs else []:
                def page(identity_id: int = identity_id) -> None:
                    identity = db.get_one(Identity, identity_id)
                    console.person(db, settings, identity, everywhere)
                times.append(timed(page))
                found.append(1)
                db.rollback()
                db.expunge_all()
            p50, p99 = percentiles(times)
            rows.append((kind, p50, p99, statistics.mean(found), statements[0] / len(times)))
            print(f"  {kind}: p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
            if explain and qs and p99 > TARGET_MS:
                event.remove(engine, "before_cursor_execute", counted)
                _explain(db, settings, qs[0])
                event.listen(engine, "before_cursor_execute", counted)
    event.remove(engine, "before_cursor_execute", counted)
    return rows


def _explain(db: Session, settings: Settings, q: str) -> None:
    """EXPLAIN ANALYZE of each statement the console's search of ``q`` runs, as it runs it."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        console.search(db, q, settings=settings, scope=HelpdeskScope(None))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    driver: Any = db.connection().connection.driver_connection
    for statement, parameters in statements:
        print(f"\nEXPLAIN ANALYZE for {q!r}:\n  {statement}\n  {parameters}")
        for row in driver.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters):
            print("  " + str(row[0]), flush=True)
    db.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identities", type=int, default=IDENTITIES)
    parser.add_argument("--queries", type=int, default=QUERIES)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep-data-set", action="store_true")
    parser.add_argument("--drop-kept", action="store_true")
    args = parser.parse_args()
    if args.drop_kept:
        print("dropped: " + (", ".join(drop_kept(POSTGRES_ADMIN)) or "none kept"))
        return
    with data_set(POSTGRES_ADMIN, args.identities, keep=args.keep_data_set) as (url, how):
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                n_accounts = conn.scalar(text("SELECT count(*) FROM linked_accounts"))
                n_terms = conn.scalar(text("SELECT count(*) FROM account_search_terms"))
            print(f"Helpdesk search, PostgreSQL: {args.identities:,} identities, "
                  f"{n_accounts:,} accounts, {n_terms:,} search terms, {how}; "
                  f"{args.queries} queries of each kind, as the console runs them (search and "
                  f"result lines, 20 at most); load average {_load()}", flush=True)
            rows = measure(engine, bench_settings(url), args.identities, args.queries,
                           args.explain)
        finally:
            engine.dispose()
    print(f"\n{'query':<32}{'p50 ms':>9}{'p99 ms':>9}{'found':>8}{'SQL':>6}")
    for kind, p50, p99, found, sql in rows:
        mark = "" if p99 < TARGET_MS else "  over the 50 ms target"
        print(f"{kind:<32}{p50:>9.1f}{p99:>9.1f}{found:>8.1f}{sql:>6.1f}{mark}")
    print(f"load average {_load()}")


def _load() -> str:
    """The machine's load average over 1, 5 and 15 minutes: the figures' context."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
