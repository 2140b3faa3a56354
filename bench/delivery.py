"""The delivery worker's throughput: N jobs (default 20,000) queued in the outbox, then one
worker (``idp.provisioning.worker.Worker``, what ``idp worker`` runs, default delivery
settings) delivers them with the real webhook connector to a local receiver answering 204.
The receiver runs in a process of its own (asyncio, one request per connection, as the
connector sends them) and counts what it receives. Prints jobs per second on SQLite and
PostgreSQL.

    .venv/bin/python -m bench.delivery [--jobs N] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from connectors.registry import CONNECTOR_TYPES
from demo.slapd import free_port
from idp.provisioning.outbox import new_key
from idp.provisioning.worker import Worker
from idp.settings.model import DeliverySettings
from idp.storage.base import make_engine, make_session_factory
from idp.storage.migrate import upgrade
from idp.storage.provisioning import DeliveryJob

POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "whsec_" + base64.b64encode(b"b" * 32).decode()
ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def receive(port: int, received: Synchronized[int], ready: Event) -> None:
    """Answer every POST with 204 and count it (run in a process of its own)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(ANSWER)
            await writer.drain()
            with received.get_lock():
                received.value += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def queue(url: str, count: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    person = {"campus_id": "", "sub": "", "name": "Анна Смирнова", "email": "anna@tpu.ru",
              "organizations": ["tpu"], "affiliations": ["student@tpu.ru"]}
    grant = {"state": "active", "since": now.isoformat(), "until": None}
    with engine.begin() as conn:
        for start in range(0, count, 5_000):
            conn.execute(insert(DeliveryJob), [{
                "idempotency_key": new_key(), "connector": "hook", "kind": "grant",
                "resource": "library", "identity_id": i, "campus_id": f"{i:09d}",
                "payload": {"grant": grant, "person": {**person, "campus_id": f"{i:09d}",
                                                       "sub": f"sub{i}"}},
                "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
                "updated_at": now} for i in range(start, min(count, start + 5_000))])
    engine.dispose()


def run(url: str, count: int, label: str, hook_url: str, received: Synchronized[int]) -> None:
    queue(url, count)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    connector = CONNECTOR_TYPES["webhook"].create("hook", {"url": hook_url, "secret": SECRET})
    worker = Worker(sessions, DeliverySettings(), {"hook": connector})
    before = received.value
    started = time.perf_counter()
    tally = worker.run(once=True)
    elapsed = time.perf_counter() - started
    worker.close()
    with sessions() as db:
        done = db.scalar(select(func.count()).select_from(DeliveryJob)
                         .where(DeliveryJob.state == "done")) or 0
    engine.dispose()
    print(f"{label:<10} {count:>7} jobs  {done:>7} done  {received.value - before:>7} received  "
          f"{elapsed:6.1f} s  {done / elapsed:7.0f} jobs/s  (retried {tally.retried}, "
          f"failed {tally.failed})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    port = free_port()
    received = multiprocessing.Value("l", 0)
    ready = multiprocessing.Event()
    receiver = multiprocessing.Process(target=receive, args=(port, received, ready), daemon=True)
    receiver.start()
    try:
        if not ready.wait(10):
            raise RuntimeError("the receiver did not start")
        hook_url = f"http://127.0.0.1:{port}/hook"
        print(f"delivery worker, webhook connector to a local receiver, {os.cpu_count()} cores")
        if args.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as tmp:
                run(f"sqlite:///{tmp}/bench.sqlite3", args.jobs, "SQLite", hook_url, received)
        if args.backend in ("postgres", "both"):
            name = f"campus_id_bench_{secrets.token_hex(4)}"
            admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                run(make_url(POSTGRES_ADMIN).set(database=name).render_as_string(
                    hide_password=False), args.jobs, "PostgreSQL", hook_url, received)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    finally:
        receiver.terminate()
        receiver.join(5)


if __name__ == "__main__":
    main()
