"""The client snapshots the protocol endpoints read: served from memory for a moment, dropped
at once by any change made in this process, and at most ``ttl_s`` old for changes made
elsewhere (another worker, the CLI)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, inspect, text, update
from sqlalchemy.orm import Session, sessionmaker

from idp.storage.base import make_engine, make_session_factory
from idp.storage.client_cache import ClientCache
from idp.storage.clients import Client, find_client, hash_secret


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    with make_session_factory(engine)() as db:
        db.add(Client(client_id="library", name="Library", secret_hash=hash_secret("first-secret"),
                      redirect_uris=["https://lib.example/cb"], scopes=["openid"]))
        db.commit()
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def statements(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = sessions.kw["bind"]

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_a_second_read_within_the_lifetime_asks_the_database_nothing(
        sessions: sessionmaker[Session], statements: list[str]) -> None:
    cache = ClientCache(ttl_s=2.0, clock=Clock())
    with sessions() as db:
        first = cache.get(db, "library")
        before = len(statements)
        second = cache.get(db, "library")
    assert first is not None and first is second
    assert len(statements) == before
    assert first.check_client_secret("first-secret")
    assert first.check_redirect_uri("https://lib.example/cb")


def test_a_snapshot_belongs_to_no_session(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        snapshot = ClientCache().get(db, "library")
        assert snapshot is not None
        assert inspect(snapshot).transient
        assert snapshot not in db
        db.commit()
    assert snapshot.name == "Library"  # nothing expired it


def test_a_change_flushed_in_this_process_is_seen_at_once(sessions: sessionmaker[Session]) -> None:
    cache = ClientCache(ttl_s=3600.0, clock=Clock())
    with sessions() as db:
        assert cache.get(db, "library") is not None
        client = find_client(db, "library")
        assert client is not None
        client.secret_hash = hash_secret("second-secret")
        db.commit()
    with sessions() as db:
        fresh = cache.get(db, "library")
    assert fresh is not None
    assert fresh.check_client_secret("second-secret")
    assert not fresh.check_client_secret("first-secret")


def test_a_bulk_update_in_this_process_is_seen_at_once(sessions: sessionmaker[Session]) -> None:
    cache = ClientCache(ttl_s=3600.0, clock=Clock())
    with sessions() as db:
        assert cache.get(db, "library") is not None
        db.execute(update(Client).where(Client.client_id == "library")
                   .values(deleted_at=datetime.now(UTC)))
        db.commit()
    with sessions() as db:
        assert cache.get(db, "library") is None


def test_a_change_made_elsewhere_is_seen_once_the_lifetime_is_over(
        sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    cache = ClientCache(ttl_s=2.0, clock=clock)
    with sessions() as db:
        assert cache.get(db, "library") is not None
    # As another process would: straight SQL, no ORM event in this process.
    with sessions.kw["bind"].begin() as conn:
        conn.execute(text("UPDATE clients SET name = 'Library 2' WHERE client_id = 'library'"))
    with sessions() as db:
        stale = cache.get(db, "library")
        assert stale is not None and stale.name == "Library"
        clock.now += 2.0
        fresh = cache.get(db, "library")
    assert fresh is not None and fresh.name == "Library 2"


def test_unknown_and_absurd_ids_are_not_found(sessions: sessionmaker[Session]) -> None:
    cache = ClientCache()
    with sessions() as db:
        assert cache.get(db, "") is None
        assert cache.get(db, "nobody") is None
        assert cache.get(db, "x" * 65) is None


def test_a_change_committed_by_another_worker_is_seen_at_once(sessions: sessionmaker[Session]) -> None:
    """Workers forked from one server share a counter; here two caches share one, as they do."""
    shared = multiprocessing.Value("Q", 0, lock=False)
    clock = Clock()
    this_worker = ClientCache(ttl_s=3600.0, clock=clock, shared=shared)
    other_worker = ClientCache(ttl_s=3600.0, clock=clock, shared=shared)
    with sessions() as db:
        assert this_worker.get(db, "library") is not None
    with sessions.kw["bind"].begin() as conn:
        conn.execute(text("UPDATE clients SET name = 'Library 2' WHERE client_id = 'library'"))
    other_worker.tell_other_workers()  # what its commit of the change does
    with sessions() as db:
        fresh = this_worker.get(db, "library")
    assert fresh is not None and fresh.name == "Library 2"


def test_a_commit_that_changed_a_client_tells_the_other_workers(sessions: sessionmaker[Session]) -> None:
    cache = ClientCache(ttl_s=3600.0, clock=Clock())
    with sessions() as db:
        client = find_client(db, "library")
        assert client is not None
        before = cache._shared.value
        client.name = "Library 3"
        db.flush()
        assert cache._shared.value == before  # not before the change can be read
        db.commit()
    assert cache._shared.value != before


def test_a_stored_tokens_client_is_found_by_primary_key_from_memory(
        sessions: sessionmaker[Session], statements: list[str]) -> None:
    cache = ClientCache(ttl_s=3600.0, clock=Clock())
    with sessions() as db:
        by_id = cache.get(db, "library")
        assert by_id is not None
        before = len(statements)
        assert cache.by_pk(db, by_id.id) is by_id
        assert len(statements) == before
        assert cache.by_pk(db, by_id.id + 1000) is None
        db.execute(update(Client).where(Client.client_id == "library")
                   .values(deleted_at=datetime.now(UTC)))
        db.commit()
    with sessions() as db:
        assert cache.by_pk(db, by_id.id) is None  # deleted: as absent as by client_id


def test_a_client_found_first_by_primary_key_is_then_known_by_both(
        sessions: sessionmaker[Session], statements: list[str]) -> None:
    cache = ClientCache(ttl_s=3600.0, clock=Clock())
    with sessions() as db:
        pk = db.scalar(text("SELECT id FROM clients WHERE client_id = 'library'"))
        found = cache.by_pk(lambda: db, pk)
        assert found is not None and found.client_id == "library"
        before = len(statements)
        assert cache.get(db, "library") is found
        assert cache.by_pk(db, pk) is found
        assert len(statements) == before
