"""``idp deliveries list`` and ``retry`` over jobs in the outbox, and ``idp worker --reconcile``
refusing what it cannot do: JSON as documented, the same job sent again with its key, exit
codes 2 (invalid), 3 (not found) and 4 (conflict) with a message."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory
from idp.storage.provisioning import DeliveryJob
from tests.cli.test_cli import run
from tests.support.webhook_receiver import SECRET


def add_jobs(database_url: str, *rows: dict[str, Any]) -> list[int]:
    """Jobs as the worker leaves them; each row overrides the defaults."""
    now = datetime.now(UTC)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        jobs = []
        for i, row in enumerate(rows):
            values: dict[str, Any] = {
                "idempotency_key": f"msg_test_{i}", "connector": "library_hook", "kind": "grant",
                "resource": "library", "identity_id": 100 + i, "campus_id": f"10000000{i}",
                "payload": {"grant": {}, "person": {}}, "state": "pending", "attempts": 0,
                "next_attempt_at": now, "created_at": now, "updated_at": now, **row}
            jobs.append(DeliveryJob(**values))
        db.add_all(jobs)
        db.commit()
        ids = [j.id for j in jobs]
    engine.dispose()
    return ids


def stored(database_url: str) -> list[DeliveryJob]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        found = list(db.scalars(select(DeliveryJob).order_by(DeliveryJob.id)))
    engine.dispose()
    return found


def retried_events(database_url: str) -> list[AuditEvent]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        found = list(db.scalars(select(AuditEvent).where(AuditEvent.type == "delivery.retried")))
    engine.dispose()
    return found


FAILED = {"state": "failed", "attempts": 7, "last_error": "HTTP 404: no such patron"}


def test_list_prints_every_job_as_documented_and_filters(config: Path, database_url: str) -> None:
    done, failed, other = add_jobs(database_url, {"state": "done", "attempts": 1}, FAILED,
                                   {"connector": "gym_hook", "kind": "revoke"})
    result = run("--config", str(config), "deliveries", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed[1] == {"id": failed, "connector": "library_hook", "type": "grant",
                         "resource": "library", "campus_id": "100000001", "state": "failed",
                         "attempts": 7, "last_error": "HTTP 404: no such patron",
                         "request_id": None}
    assert [j["id"] for j in listed] == [done, failed, other]
    only_failed = run("--config", str(config), "deliveries", "list", "--state", "failed", "--json")
    assert [j["id"] for j in json.loads(only_failed.output)] == [failed]
    gym = run("--config", str(config), "deliveries", "list", "--connector", "gym_hook", "--json")
    assert [(j["id"], j["type"]) for j in json.loads(gym.output)] == [(other, "revoke")]
    table = run("--config", str(config), "deliveries", "list", "--state", "failed")
    header, row = table.output.splitlines()
    assert header.split()[:3] == ["ID", "CONNECTOR", "TYPE"]
    assert row.split()[:7] == [str(failed), "library_hook", "grant", "library", "100000001",
                               "failed", "7"] and row.endswith("HTTP 404: no such patron")
    bad = run("--config", str(config), "deliveries", "list", "--state", "lost")
    assert bad.exit_code == 2 and "lost" in bad.output


def test_retry_sends_the_same_job_again_and_is_audited(config: Path, database_url: str) -> None:
    [failed] = add_jobs(database_url, FAILED)
    result = run("--config", str(config), "deliveries", "retry", str(failed),
                 "--reason", "the library fixed its branch list")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{
        "id": failed, "connector": "library_hook", "type": "grant", "resource": "library",
        "campus_id": "100000000", "state": "pending", "attempts": 7,
        "last_error": "HTTP 404: no such patron", "request_id": None}]
    [job] = stored(database_url)
    assert (job.idempotency_key, job.state, job.attempts) == ("msg_test_0", "pending", 7)
    assert job.next_attempt_at <= datetime.now(UTC)
    [event] = retried_events(database_url)
    assert event.actor == f"cli:{getpass.getuser()}"
    assert event.details["job"] == failed
    assert event.details["reason"] == "the library fixed its branch list"


def test_retry_refuses_unknown_jobs_jobs_not_failed_and_superseded_ones(
        config: Path, database_url: str) -> None:
    pending, failed, newer = add_jobs(
        database_url, {}, {**FAILED, "identity_id": 7},
        {"identity_id": 7, "kind": "revoke", "state": "done"})
    unknown = run("--config", str(config), "deliveries", "retry", "999999")
    assert unknown.exit_code == 3 and "No delivery job 999999." in unknown.output
    busy = run("--config", str(config), "deliveries", "retry", str(pending))
    assert busy.exit_code == 4
    assert f"Delivery job {pending} is pending, not failed" in busy.output
    old = run("--config", str(config), "deliveries", "retry", str(failed))
    assert old.exit_code == 4 and f"superseded by job {newer}" in old.output
    neither = run("--config", str(config), "deliveries", "retry")
    assert neither.exit_code == 2 and "--all-failed" in neither.output
    assert [j.state for j in stored(database_url)] == ["pending", "failed", "done"]
    assert retried_events(database_url) == []


def test_retry_all_failed(config: Path, database_url: str) -> None:
    first, _done, second, superseded, _newer = add_jobs(
        database_url, FAILED, {"state": "done"}, {**FAILED, "connector": "gym_hook"},
        {**FAILED, "identity_id": 7}, {"identity_id": 7})
    result = run("--config", str(config), "deliveries", "retry", "--all-failed")
    assert result.exit_code == 0, result.output
    assert [j["id"] for j in json.loads(result.stdout)] == [first, second]
    assert f"superseded by a newer job of the same person, resource and connector): " \
           f"{superseded}" in result.output
    assert [j.state for j in stored(database_url)] == [
        "pending", "done", "pending", "failed", "pending"]
    assert len(retried_events(database_url)) == 2


def test_reconcile_refuses_an_unknown_connector_and_one_that_cannot_list(
        config: Path, database_url: str) -> None:
    unknown = run("--config", str(config), "worker", "--reconcile", "library_hook")
    assert unknown.exit_code == 3 and "No connector library_hook is configured." in unknown.output
    with config.open("a", encoding="utf-8") as f:
        f.write(f'[connectors.library_hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/h"\n'
                f'secret = "{SECRET}"\n')
    webhook = run("--config", str(config), "worker", "--reconcile", "library_hook")
    assert webhook.exit_code == 2
    assert "Connector library_hook cannot list what it holds" in webhook.output
