"""The delivery worker gives each batch an id of its own (docs/operations.md, "Logs"): the
connector's calls run with it, in the pool's threads, and the audit events the batch writes
carry it; the next batch has another."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Delivery, NeverWorks
from idp import request_id as request_ids
from idp.storage.audit import AuditEvent
from tests.integration.test_delivery_worker import queued, sessions, settings, worker  # noqa: F401


@dataclass
class Refusing:
    """A connector that refuses every delivery for good, noting the id it ran under."""

    seen: list[str | None] = field(default_factory=list)

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        self.seen.append(request_ids.current())
        raise NeverWorks("HTTP 422: no such branch")


def test_each_batch_has_an_id_its_calls_and_audit_events_carry(
        sessions: sessionmaker[Session], database_url: str) -> None:  # noqa: F811
    s = settings(database_url, "http://127.0.0.1:9/hook")
    refusing = Refusing()
    w = worker(sessions, s, hook=refusing)
    queued(sessions, s, 1)
    w.run_batch()
    queued(sessions, s, 1)
    w.run_batch()
    w.close()

    first, second = refusing.seen
    assert first and second and first != second and request_ids.current() is None
    with sessions() as db:
        failed = db.scalars(select(AuditEvent).where(AuditEvent.type == "delivery.failed")
                            .order_by(AuditEvent.id)).all()
    assert [e.request_id for e in failed] == [first, second]
