"""Campus identities in the database: first login creates one identity per account, later
logins refresh it, and concurrent first logins never create a duplicate."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.storage import audit
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import Identity, LinkedAccount


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def account(name: str = "ivanov", given: str = "Иван") -> DirectoryAccount:
    return DirectoryAccount("tpu", "8f14e45f-ceea-467f-a0e6-6b6a4a1f0c11", name,
                            {"given_name": (given,), "snils": ("112-233-445 95",)})


def test_first_login_creates_identity_and_later_logins_refresh(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        first = upsert_account(db, account())
        db.commit()
        sub, campus_id = first.identity.sub, first.identity.campus_id
    with sessions() as db:
        again = upsert_account(db, account(name="ivanov2", given="Ваня"))
        db.commit()
        assert again.identity.sub == sub and again.identity.campus_id == campus_id
        assert again.username == "ivanov2"
        assert again.attributes == {"given_name": ["Ваня"]}  # SNILS is never kept in clear
        created = audit.events(db, audit.AuditEventType.IDENTITY_CREATED)
        assert len(created) == 1 and created[0].details["sub"] == sub


def test_concurrent_first_logins_create_one_identity(sessions: sessionmaker[Session]) -> None:
    barrier = threading.Barrier(4)
    subs: list[str] = []
    errors: list[BaseException] = []

    def login() -> None:
        try:
            with sessions() as db:
                barrier.wait()
                found = upsert_account(db, account())
                db.commit()
                subs.append(found.identity.sub)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=login) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(set(subs)) == 1 and len(subs) == 4
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Identity)) == 1
        assert db.scalar(select(func.count()).select_from(LinkedAccount)) == 1
