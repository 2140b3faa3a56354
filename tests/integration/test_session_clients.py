"""Which clients took part in a login session (what back-channel logout reaches): one row per
pair, however often and however concurrently the client gets a code in that session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.storage.base import make_engine, make_session_factory, utcnow
from idp.storage.clients import Client, hash_secret
from idp.storage.logout import LoginSessionClient, clients_of_session, remember_client
from idp.storage.sessions import LoginSession, new_session_id


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def login_and_client(sessions: sessionmaker[Session]) -> tuple[int, Client]:
    with sessions() as db:
        account = upsert_account(db, DirectoryAccount("tpu", "8f14e45f-ceea-467f-a0e6-6b6a4a1f0c11",
                                                      "ivanov", {}))
        login = LoginSession(session_id=new_session_id(), sid=new_session_id(),
                             identity_id=account.identity_id, account_id=account.id, auth_time=0,
                             expires_at=utcnow() + timedelta(hours=1))
        client = Client(client_id="library", name="Library", secret_hash=hash_secret("s"),
                        redirect_uris=["https://lib.example/cb"], scopes=["openid"])
        db.add_all([login, client])
        db.commit()
        return login.id, client


def rows(sessions: sessionmaker[Session], login_id: int) -> int:
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(LoginSessionClient)
                         .where(LoginSessionClient.login_session_id == login_id)) or 0


def test_a_client_is_remembered_once_per_session(sessions: sessionmaker[Session],
                                                 login_and_client: tuple[int, Client]) -> None:
    login_id, client = login_and_client
    for _ in range(2):
        with sessions() as db:
            remember_client(db, login_id, client)
            remember_client(db, login_id, client)
            db.commit()
    assert rows(sessions, login_id) == 1
    with sessions() as db:
        assert [c.client_id for c in clients_of_session(db, login_id)] == ["library"]


def test_concurrent_codes_in_one_session_neither_fail_nor_duplicate(
        sessions: sessionmaker[Session], login_and_client: tuple[int, Client]) -> None:
    login_id, client = login_and_client
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def authorize() -> None:
        try:
            with sessions() as db:
                barrier.wait()
                remember_client(db, login_id, client)
                db.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=authorize) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert rows(sessions, login_id) == 1
