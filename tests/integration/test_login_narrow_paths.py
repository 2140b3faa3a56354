"""The login's narrow writes leave what the general paths leave: ``touch_account`` (one
UPDATE ... RETURNING) against ``find_account`` and ``note_login``, and
``audit.record_at_once`` (one INSERT) against ``audit.record`` (a flush), on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import Session, sessionmaker

from idp.directory.base import DirectoryAccount
from idp.identity.login import signed_in_account, upsert_account
from idp.metrics import hooks
from idp.storage import audit, on_driver
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.base import make_engine, make_session_factory, utcnow
from idp.storage.identities import LinkedAccount, find_account, note_login, touch_account


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def found(name: str = "ivanov", given: str = "Иван") -> DirectoryAccount:
    return DirectoryAccount("tpu", "ext-ivanov", name, {"given_name": (given,)})


def columns(account: LinkedAccount) -> dict[str, Any]:
    return {c.key: getattr(account, c.key) for c in LinkedAccount.__table__.columns}


def test_touch_reads_what_find_account_reads_and_writes_what_note_login_writes(
        sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        upsert_account(db, found())
        db.commit()
    at = utcnow() + timedelta(minutes=5)
    with sessions() as db:
        general = find_account(db, "tpu", "ext-ivanov")
        assert general is not None
        note_login(db, general, at)
        expected, identity_sub = columns(general), general.identity.sub
        db.rollback()
    with sessions() as db:
        touched = touch_account(db, "tpu", "ext-ivanov", at)
        assert touched is not None and touched.locked is False
        assert columns(touched.account) == expected
        assert touched.account in db and not db.dirty
        assert touched.account.identity.sub == identity_sub  # loads on first use
        db.commit()
    with sessions() as db:
        stored = find_account(db, "tpu", "ext-ivanov")
        assert stored is not None and columns(stored) == expected
        assert touch_account(db, "tpu", "no-such-account", at) is None


def test_touch_returns_the_account_the_session_already_holds(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        held = upsert_account(db, found())
        at = utcnow() + timedelta(minutes=1)
        touched = touch_account(db, "tpu", "ext-ivanov", at)
        assert touched is not None and touched.account is held
        assert held.last_login_at == at and not db.dirty


def test_touch_says_whether_the_identity_is_locked(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        upsert_account(db, found()).identity.locked_at = utcnow()
        db.commit()
    with sessions() as db:
        touched = touch_account(db, "tpu", "ext-ivanov", utcnow())
        assert touched is not None and touched.locked is True


def test_a_changed_account_is_refreshed_as_before(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        upsert_account(db, found())
        db.commit()
    with sessions() as db:
        account, created, locked = signed_in_account(db, found("ivanov2", "Ваня"))
        assert not created and not locked and account.username == "ivanov2"
        db.commit()
    with sessions() as db:
        stored = find_account(db, "tpu", "ext-ivanov")
        assert stored is not None and stored.username == "ivanov2"
        assert stored.attributes == {"given_name": ["Ваня"]}
        assert stored.last_login_at is not None


def event_row(db: Session, event_id: int) -> dict[str, Any]:
    """The row as stored, its JSON as the text the database holds."""
    table = AuditEvent.__table__
    stmt = select(table, cast(table.c.details, Text).label("details_text")).where(
        table.c.id == event_id)
    row = db.execute(stmt).one()
    return {k: v for k, v in row._asdict().items() if k not in ("id", "at")}


def test_record_at_once_writes_the_row_record_writes(sessions: sessionmaker[Session]) -> None:
    hooks.count_audit_events(sessions)
    given: dict[str, Any] = {"actor": "tpu:iva\x00nov", "identity_id": 7, "organization": "tpu",
                             "ip": "192.0.2.1", "client_id": "app", "reason": "пароль \"x\"",
                             "tries": [1, None]}
    with sessions() as db:
        first = audit.record(db, AuditEventType.CONSENT_GRANTED, **given)
        db.flush()
        narrow = audit.record_at_once(db, AuditEventType.LOGIN_SUCCEEDED, **given)
        noted = list(db.info.get(hooks.NOTED, []))
        db.commit()
        assert narrow.id > first.id
        general, fast = event_row(db, first.id), event_row(db, narrow.id)
    assert general.pop("type") == "consent.granted" and fast.pop("type") == "login.succeeded"
    assert fast == general
    assert noted == [("login.succeeded", "tpu", "tpu:iva\\x00nov",
                      {"reason": "пароль \"x\"", "tries": [1, None]})]


def test_record_at_once_keeps_the_order_of_pending_events(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        pending = audit.record(db, AuditEventType.IDENTITY_CREATED, actor="system")
        narrow = audit.record_at_once(db, AuditEventType.LOGIN_SUCCEEDED, actor="tpu:ivanov")
        db.commit()
        assert [e.type for e in audit.events(db)] == ["identity.created", "login.succeeded"]
        assert pending.id < narrow.id


def test_on_driver_reads_a_select_as_sqlalchemy_does(sessions: sessionmaker[Session]) -> None:
    """Parameters and columns converted by their types (an aware UTC datetime, JSON)."""
    with sessions() as db:
        upsert_account(db, found())
        db.commit()
    table = LinkedAccount.__table__
    stmt = select(table.c.id, table.c.attributes, table.c.last_login_at, table.c.staff_role).where(
        table.c.external_id == bindparam("ext_id"), table.c.last_login_at < bindparam("before"))
    params = {"ext_id": "ext-ivanov", "before": utcnow() + timedelta(hours=1)}
    with sessions() as db:
        connection = db.connection()
        expected = [tuple(row) for row in connection.execute(stmt, params)]
        assert on_driver.rows(connection, stmt, params) == expected
        assert len(expected) == 1 and expected[0][2].utcoffset() == timedelta(0)
