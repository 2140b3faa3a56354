"""The spent-jti store decides a race between two connections (two workers) on SQLite and
PostgreSQL: of two uses of one assertion, exactly one is accepted; expired ids are pruned."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from idp.storage.base import make_engine, make_session_factory, utcnow
from idp.storage.client_assertions import ClientAssertionJti, spend_jti
from idp.storage.clients import Client


def test_two_connections_spend_one_jti_once(migrated_database_url: str) -> None:
    engine = make_engine(migrated_database_url)
    sessions = make_session_factory(engine)
    expires = utcnow() + timedelta(minutes=5)
    with sessions() as db:
        client = Client(client_id="race", name="Race")
        db.add(client)
        db.commit()
        pk = client.id
    results: list[bool] = []
    with sessions() as first:
        assert spend_jti(first, pk, "one", expires)

        def second_worker() -> None:
            with sessions() as second:
                results.append(spend_jti(second, pk, "one", expires))
                second.commit()

        thread = threading.Thread(target=second_worker)
        thread.start()
        first.commit()
        thread.join(30)
    assert results == [False]
    with sessions() as db:
        db.add(ClientAssertionJti(client_pk=pk, jti="old", expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
        assert spend_jti(db, pk, "two", expires)
        db.commit()
        assert sorted(db.scalars(select(ClientAssertionJti.jti))) == ["one", "two"]
        assert db.scalar(select(func.count()).select_from(ClientAssertionJti)) == 2
    engine.dispose()
