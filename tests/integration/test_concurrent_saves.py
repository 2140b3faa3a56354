"""Check-then-insert races outside the login path, released together at a barrier (SQLite and
PostgreSQL): "Save" of a release policy clicked twice, and two instances of the provider
started at the same moment on a fresh database. Each ends as if it had run once, without an
error."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.app import create_app
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client
from idp.storage.keys import SigningKey
from idp.storage.migrate import upgrade
from idp.storage.release import ReleasePolicy, set_release
from tests.flows.conftest import make_settings
from tests.support.concurrency import together


def test_a_release_policy_saved_twice_at_once_is_stored_and_audited_once(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as db:
        db.add(Client(client_id="rp", name="RP", redirect_uris=["https://rp.example.org/cb"]))
        db.commit()

    def save() -> bool:
        with sessions() as db:
            client = db.scalars(select(Client).where(Client.client_id == "rp")).one()
            changed = set_release(db, client, ["email", "name"], organization="tpu",
                                  actor="admin:tpu:asmirnova")
            db.commit()
            return changed

    for _ in range(5):
        with sessions() as db:
            db.query(ReleasePolicy).delete()
            db.query(AuditEvent).delete()
            db.commit()
        assert sorted(together(save, save)) == [False, True]
        with sessions() as db:
            assert db.scalar(select(func.count()).select_from(ReleasePolicy)) == 1
            changes = db.scalars(select(AuditEvent).where(
                AuditEvent.type == AuditEventType.CLIENT_RELEASE_CHANGED.value)).all()
            assert len(changes) == 1
    engine.dispose()


def test_two_instances_started_at_once_on_a_fresh_database_both_start(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    nowhere: Any = SimpleNamespace(uri="ldap://127.0.0.1:1")  # no login happens here
    settings = make_settings(database_url, {"tpu": nowhere})
    apps = together(lambda: create_app(settings), lambda: create_app(settings))
    with Session(engine) as db:
        per_client = db.execute(select(Client.client_id, func.count()).group_by(Client.client_id))
        assert {count for _, count in per_client} == {1}
        per_alg = db.execute(select(SigningKey.alg, func.count()).group_by(SigningKey.alg))
        assert {count for _, count in per_alg} == {1}
    for app in apps:
        app.extensions["campus_id"].engine.dispose()
    engine.dispose()
