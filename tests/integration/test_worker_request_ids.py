"""The delivery worker gives each batch an id of its own (docs/operations.md, "Logs"): the
connector's calls run with it, in the pool's threads, and the audit events the batch writes
carry it; the next batch has another. A job queued in a request (or job, or command) keeps
that one's id instead, and is delivered under it."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Delivery, NeverWorks
from idp import logs
from idp import request_id as request_ids
from idp.settings.model import LogFormat, LoggingSettings, LogLevel
from idp.storage.audit import AuditEvent
from idp.storage.provisioning import DeliveryJob
from tests.integration.test_delivery_worker import (  # noqa: F401
    people,
    queue,
    queued,
    sessions,
    settings,
    worker,
)


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


@dataclass
class Noting:
    """A connector that refuses every delivery for good, noting each job's key and the id its
    call ran under."""

    seen: dict[str, str | None] = field(default_factory=dict)

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        self.seen[delivery.key] = request_ids.current()
        raise NeverWorks("HTTP 422: no such branch")


def test_each_job_is_delivered_under_the_id_of_the_request_that_queued_it(
        sessions: sessionmaker[Session], database_url: str) -> None:  # noqa: F811
    """Two helpdesk clicks queue a job each; one batch delivers both: each call, and each
    job's audit event, carries its own click's id, not the batch's."""
    s = settings(database_url, "http://127.0.0.1:9/hook")
    noting = Noting()
    w = worker(sessions, s, hook=noting)
    with sessions() as db:
        one, other = people(db, 2)
        with request_ids.bound("click-a"):
            first = queue(db, s, one).idempotency_key  # written (flushed) under the click's id
        with request_ids.bound("click-b"):
            second = queue(db, s, other).idempotency_key
        db.commit()
    with sessions() as db:
        kept = dict(db.execute(select(DeliveryJob.idempotency_key, DeliveryJob.request_id)).all())
    assert kept == {first: "click-a", second: "click-b"}

    lines = io.StringIO()
    handler = logs.handler(LoggingSettings(LogFormat.JSON, LogLevel.INFO), lines)
    logging.getLogger().addHandler(handler)
    try:
        assert w.run_batch() == 2
    finally:
        logging.getLogger().removeHandler(handler)
        w.close()
    assert noting.seen == {first: "click-a", second: "click-b"}
    dead = [json.loads(line) for line in lines.getvalue().splitlines() if "dead-lettered" in line]
    assert sorted(line["request_id"] for line in dead) == ["click-a", "click-b"]
    with sessions() as db:
        failed = db.scalars(select(AuditEvent).where(AuditEvent.type == "delivery.failed")
                            .order_by(AuditEvent.id)).all()
    assert sorted(e.request_id or "" for e in failed) == ["click-a", "click-b"]


@dataclass
class Accepting:
    """A connector that takes every delivery."""

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        return None


def test_a_delivered_job_is_logged_under_its_request_s_id(
        sessions: sessionmaker[Session], database_url: str) -> None:  # noqa: F811
    """A delivery that succeeds writes no audit event: its log line is what an operator
    following the click finds."""
    s = settings(database_url, "http://127.0.0.1:9/hook")
    w = worker(sessions, s, hook=Accepting())
    with sessions() as db, request_ids.bound("click-c"):
        queue(db, s, people(db, 1)[0])
        db.commit()
    lines = io.StringIO()
    handler = logs.handler(LoggingSettings(LogFormat.JSON, LogLevel.INFO), lines)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        assert w.run_batch() == 1
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        w.close()
    [line] = [json.loads(x) for x in lines.getvalue().splitlines() if "delivered" in x]
    assert line["request_id"] == "click-c" and line["logger"] == "idp.provisioning.worker"
