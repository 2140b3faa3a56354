"""Release policies as the token endpoint, UserInfo and the consent page read them: served from
memory for a moment, dropped at once by any change made in this process (and by a rollback
of one), and at most ``ttl_s`` old for changes made elsewhere (the CLI)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, event, text
from sqlalchemy.orm import Session, sessionmaker

from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client, find_client, hash_secret
from idp.storage.release import ReleasePolicy, set_release
from idp.storage.release_cache import PolicyCache


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
        db.flush()
        client = find_client(db, "library")
        assert client is not None
        set_release(db, client, ["name", "email"], actor="test")
        db.commit()
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def client_pk(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        client = find_client(db, "library")
        assert client is not None
        return client.id


@pytest.fixture
def statements(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = sessions.kw["bind"]

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def _set(sessions: sessionmaker[Session], claims: list[str] | None, organization: str = "") -> None:
    with sessions() as db:
        client = find_client(db, "library")
        assert client is not None
        set_release(db, client, claims, organization=organization, actor="admin")
        db.commit()


def test_a_second_read_within_the_lifetime_asks_the_database_nothing(
        sessions: sessionmaker[Session], client_pk: int, statements: list[str]) -> None:
    cache = PolicyCache(ttl_s=2.0, clock=Clock())
    with sessions() as db:
        first = cache.get(db, client_pk)
        before = len(statements)
        second = cache.get(db, client_pk)
    assert first == {"": {"name", "email"}}
    assert second is first and len(statements) == before
    with pytest.raises(TypeError):
        first["tpu"] = frozenset()  # type: ignore[index]  # shared between requests: read-only


def test_a_change_committed_in_this_process_is_seen_at_once(
        sessions: sessionmaker[Session], client_pk: int) -> None:
    cache = PolicyCache(ttl_s=3600.0, clock=Clock())
    with sessions() as db:
        assert cache.get(db, client_pk) == {"": {"name", "email"}}
    _set(sessions, ["email"], organization="tpu")
    with sessions() as db:
        assert cache.get(db, client_pk) == {"": {"name", "email"}, "tpu": {"email"}}
    _set(sessions, None)
    with sessions() as db:
        assert cache.get(db, client_pk) == {"tpu": {"email"}}


def test_a_bulk_delete_in_this_process_is_seen_at_once(
        sessions: sessionmaker[Session], client_pk: int) -> None:
    cache = PolicyCache(ttl_s=3600.0, clock=Clock())
    with sessions() as db:
        assert cache.get(db, client_pk)
        db.execute(delete(ReleasePolicy).where(ReleasePolicy.client_pk == client_pk))
        db.commit()
    with sessions() as db:
        assert cache.get(db, client_pk) == {}


def test_what_a_rolled_back_change_showed_is_forgotten(
        sessions: sessionmaker[Session], client_pk: int) -> None:
    cache = PolicyCache(ttl_s=3600.0, clock=Clock())
    with sessions() as db:
        client = find_client(db, "library")
        assert client is not None
        set_release(db, client, [], actor="admin")
        db.flush()
        assert cache.get(db, client_pk) == {"": frozenset()}  # this transaction's own view
        db.rollback()
    with sessions() as db:
        assert cache.get(db, client_pk) == {"": {"name", "email"}}


def test_a_change_made_elsewhere_is_seen_once_the_lifetime_is_over(
        sessions: sessionmaker[Session], client_pk: int) -> None:
    clock = Clock()
    cache = PolicyCache(ttl_s=2.0, clock=clock)
    with sessions() as db:
        assert cache.get(db, client_pk) == {"": {"name", "email"}}
    # As another process would (the CLI): straight SQL, no ORM event in this process.
    with sessions.kw["bind"].begin() as conn:
        conn.execute(text("DELETE FROM release_policies"))
    with sessions() as db:
        assert cache.get(db, client_pk) == {"": {"name", "email"}}
        clock.now += 2.0
        assert cache.get(db, client_pk) == {}


def test_a_change_committed_by_another_worker_is_seen_at_once(
        sessions: sessionmaker[Session], client_pk: int) -> None:
    """Workers forked from one server share a counter; here two caches share one, as they do."""
    shared = multiprocessing.Value("Q", 0, lock=False)
    clock = Clock()
    this_worker = PolicyCache(ttl_s=3600.0, clock=clock, shared=shared)
    other_worker = PolicyCache(ttl_s=3600.0, clock=clock, shared=shared)
    with sessions() as db:
        assert this_worker.get(db, client_pk)
    with sessions.kw["bind"].begin() as conn:
        conn.execute(text("DELETE FROM release_policies"))
    other_worker.tell_other_workers()  # what its commit of the change does
    with sessions() as db:
        assert this_worker.get(db, client_pk) == {}


def test_a_commit_that_changed_a_policy_tells_the_other_workers(
        sessions: sessionmaker[Session]) -> None:
    cache = PolicyCache(ttl_s=3600.0, clock=Clock())
    before = cache._shared.value
    with sessions() as db:
        client = find_client(db, "library")
        assert client is not None
        set_release(db, client, ["email"], actor="admin")
        db.flush()
        assert cache._shared.value == before  # not before the change can be read
        db.commit()
    assert cache._shared.value != before
