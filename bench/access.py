"""Policy evaluation and queueing at city scale: N identities (default 50,000), each with one
account, get their grants computed and their delivery jobs queued by one ``recompute_all``
(the same code ``idp access recompute`` runs): two resources each, so the default makes the
issue's 100,000 grants (target: under a minute) and 50,000 webhook jobs. Prints seconds and
grants per second on SQLite and PostgreSQL.

    .venv/bin/python -m bench.access [--people N] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from idp.provisioning.bulk import recompute_all
from idp.settings.model import (
    AccessSettings,
    ConnectorSettings,
    DatabaseSettings,
    DirectorySettings,
    DirectoryType,
    OidcSettings,
    OrganizationSettings,
    PolicySettings,
    ResourceKind,
    ResourceSettings,
    ServerSettings,
    Settings,
)
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import Identity, LinkedAccount
from idp.storage.migrate import upgrade
from idp.storage.provisioning import AccessGrant, DeliveryJob

POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ORGS = ("tpu", "tsu", "tusur")
NOW = datetime.now(UTC)


def bench_settings() -> Settings:
    orgs = {o: OrganizationSettings(o, o, o, f"{o}.ru",
                                    DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x"))
            for o in ORGS}
    library = ResourceSettings("library", "Library", "Библиотека", ResourceKind.LIBRARY,
                               connectors=("hook",))
    gym = ResourceSettings("gym", "Gym", "Спортзал", ResourceKind.SPORTS)
    policy = PolicySettings("everyone", ("library", "gym"),
                            affiliations=("student", "staff"), grace_days=30)
    return Settings(ServerSettings("https://id.example", True, "k" * 32), DatabaseSettings(),
                    OidcSettings(), orgs, {},
                    access=AccessSettings({"library": library, "gym": gym},
                                          {"everyone": policy}),
                    connectors={"hook": ConnectorSettings("hook", "webhook", {})})


def populate(url: str, people: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        for start in range(0, people, 10_000):
            count = min(10_000, people - start)
            conn.execute(insert(Identity), [
                {"sub": secrets.token_urlsafe(24), "campus_id": f"{start + i:09d}",
                 "status": "active", "created_at": NOW} for i in range(count)])
        ids = list(conn.scalars(select(Identity.id).order_by(Identity.id)))
        for start in range(0, len(ids), 10_000):
            conn.execute(insert(LinkedAccount), [
                {"identity_id": iid, "organization": ORGS[iid % 3], "external_id": str(uuid.uuid4()),
                 "username": f"user{iid}", "linked_at": NOW, "staff_role": False,
                 "directory_state": "active",
                 "attributes": {"given_name": ["Анна"], "family_name": ["Смирнова"],
                                "affiliation": ["student" if iid % 5 else "staff"]}}
                for iid in ids[start:start + 10_000]])
    engine.dispose()


def run(url: str, people: int, label: str) -> None:
    populate(url, people)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    result = recompute_all(sessions, bench_settings())
    elapsed = time.perf_counter() - started
    with sessions() as db:
        grants = db.scalar(select(func.count()).select_from(AccessGrant)) or 0
        jobs = db.scalar(select(func.count()).select_from(DeliveryJob)) or 0
    print(f"{label:<10} {people:>8} people  {grants:>8} grants  {jobs:>8} jobs  "
          f"{elapsed:6.1f} s  {grants / elapsed:8.0f} grants/s  (granted {result.granted})")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.sqlite3", args.people, "SQLite")
    if args.backend in ("postgres", "both"):
        name = f"campus_id_bench_{secrets.token_hex(4)}"
        admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(make_url(POSTGRES_ADMIN).set(database=name).render_as_string(
                hide_password=False), args.people, "PostgreSQL")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
