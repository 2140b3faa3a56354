"""What the audit trail lets the helpdesk undo (``idp.linking.undo.plan``), on SQLite and
PostgreSQL: an unlink is undone by linking the account back, a merge by moving off the
accounts it brought, and neither once accounts moved since, an identity it left was merged
away, or the event is older than the record undo needs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.linking import merge, undo
from idp.linking.undo import Kind, Refusal
from idp.storage import audit
from idp.storage.audit import AuditEvent, AuditEventType
from tests.integration.test_identity_merge import ACTOR, person, sessions  # noqa: F401


def last(db: Session, kind: AuditEventType) -> AuditEvent:
    return db.scalars(select(AuditEvent).where(AuditEvent.type == kind.value)
                      .order_by(AuditEvent.id.desc()).limit(1)).one()


def test_an_unlink_is_undone_by_linking_back_until_accounts_move(
        sessions: sessionmaker[Session]) -> None:  # noqa: F811
    with sessions() as db:
        one = person(db, "tpu", "asmirnova")
        merge.link_account(db, one, person(db, "tsu", "anna.smirnova").accounts[0],
                           reason="same", actor=ACTOR)
        merge.link_account(db, one, person(db, "tusur", "smirnova.as").accounts[0],
                           reason="same", actor=ACTOR)
        made = merge.unlink_account(db, one, "tsu:anna.smirnova", reason="two", actor=ACTOR)
        unlinked = last(db, AuditEventType.ACCOUNT_UNLINKED)
        found = undo.plan(db, unlinked)
        assert found is not None and found.refusal is None and found.kind is Kind.LINK_BACK
        assert found.identity is one and found.other is made
        assert found.accounts == ("tsu:anna.smirnova",)

        merged = last(db, AuditEventType.IDENTITY_MERGED)  # tusur's: tsu has moved since
        changed = undo.plan(db, merged)
        assert changed is not None and changed.refusal is Refusal.CHANGED

        merge.unlink_account(db, one, "tusur:smirnova.as", reason="three", actor=ACTOR)
        found = undo.plan(db, unlinked)
        assert found is not None and found.refusal is Refusal.CHANGED


def test_a_merge_is_undone_by_moving_off_what_it_brought_unless_merged_away(
        sessions: sessionmaker[Session]) -> None:  # noqa: F811
    with sessions() as db:
        one, two = person(db, "tpu", "asmirnova"), person(db, "tsu", "anna.smirnova")
        merge.link_account(db, one, two.accounts[0], reason="same", actor=ACTOR)
        merged = last(db, AuditEventType.IDENTITY_MERGED)
        found = undo.plan(db, merged)
        assert found is not None and found.refusal is None and found.kind is Kind.SPLIT_OFF
        assert found.identity is one and found.accounts == ("tsu:anna.smirnova",)

        three = person(db, "tusur", "smirnova.as")
        merge.link_account(db, three, one.accounts[0], reason="all one", actor=ACTOR)
        gone = undo.plan(db, merged)
        assert gone is not None and gone.refusal is Refusal.GONE


def test_events_without_the_record_have_no_undo(sessions: sessionmaker[Session]) -> None:  # noqa: F811
    with sessions() as db:
        one = person(db, "tpu", "asmirnova")
        old = audit.record(db, AuditEventType.ACCOUNT_LINKED, actor="rule:snils",
                           identity_id=one.id, account="tpu:asmirnova", sub=one.sub)
        locked = audit.record(db, AuditEventType.IDENTITY_LOCKED, actor=ACTOR, identity_id=one.id)
        db.flush()
        found = undo.plan(db, old)
        assert found is not None and found.refusal is Refusal.NOT_RECORDED
        assert undo.plan(db, locked) is None
