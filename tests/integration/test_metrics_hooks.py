"""The counts that come from the database: an audit event counts once its transaction commits
(never when it rolls back), the pool gauges follow checkouts, the delivery outbox's depth and
oldest job per connector, and the live gauges of an exited process are dropped."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from prometheus_client.core import Metric
from sqlalchemy.orm import Session, sessionmaker

from idp.metrics import collectors, hooks
from idp.metrics.definitions import REGISTRY
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.provisioning import DeliveryJob, JobState


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_audit_event_counts_when_committed_not_when_rolled_back(
        sessions: sessionmaker[Session]) -> None:
    hooks.count_audit_events(sessions)
    before = count("idp_logins_total", organization="tsu", outcome="succeeded")
    with sessions() as db:
        audit.record(db, AuditEventType.LOGIN_SUCCEEDED, actor="tsu:demo", organization="tsu")
        db.flush()
        db.rollback()
        assert count("idp_logins_total", organization="tsu", outcome="succeeded") == before
        audit.record(db, AuditEventType.LOGIN_SUCCEEDED, actor="tsu:demo", organization="tsu")
        audit.record(db, AuditEventType.CONSENT_GRANTED, actor="tsu:demo")  # not counted
        db.flush()
        assert count("idp_logins_total", organization="tsu", outcome="succeeded") == before
        db.commit()
    assert count("idp_logins_total", organization="tsu", outcome="succeeded") == before + 1


def test_what_each_event_moves() -> None:
    throttled = count("idp_login_throttled_total", organization="tusur", scope="address")
    logins = count("idp_logins_total", organization="tusur", outcome="throttled")
    hooks.count_event("login.throttled", "tusur", "someone", {"scope": "address"})
    assert count("idp_login_throttled_total", organization="tusur", scope="address") == throttled + 1
    assert count("idp_logins_total", organization="tusur", outcome="throttled") == logins + 1

    odd = count("idp_logins_total", organization="tusur", outcome="failed")
    hooks.count_event("login.failed", "tusur", "x", {"reason": "<script>"})  # not a label value
    assert count("idp_logins_total", organization="tusur", outcome="failed") == odd + 1

    by_rule = count("idp_linking_decisions_total", decision="account.linked", rule="snils")
    by_person = count("idp_linking_decisions_total", decision="account.linked", rule="")
    hooks.count_event("account.linked", "", "rule:snils", {})
    hooks.count_event("account.linked", "", "tpu:demo", {})
    assert count("idp_linking_decisions_total", decision="account.linked", rule="snils") == by_rule + 1
    assert count("idp_linking_decisions_total", decision="account.linked", rule="") == by_person + 1


def test_connections_in_use_follow_the_pool(sessions: sessionmaker[Session]) -> None:
    engine = sessions.kw["bind"]
    hooks.watch_pool(engine)
    idle = count("idp_db_connections_in_use")
    with engine.connect():
        assert count("idp_db_connections_in_use") == idle + 1
    assert count("idp_db_connections_in_use") == idle


def job(db: Session, key: str, connector: str, state: JobState, age_s: float) -> None:
    db.add(DeliveryJob(idempotency_key=key, connector=connector, kind="grant", resource="gym",
                       identity_id=1, campus_id="C1", payload={}, state=state.value,
                       created_at=utcnow() - timedelta(seconds=age_s)))


def samples(metrics: list[Metric]) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(s.name, tuple(s.labels.values())): s.value for m in metrics for s in m.samples}


def test_the_delivery_queue_by_connector(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        job(db, "k1", "library", JobState.PENDING, 600)
        job(db, "k2", "library", JobState.PENDING, 60)
        job(db, "k3", "library", JobState.IN_PROGRESS, 30)
        job(db, "k4", "library", JobState.FAILED, 7200)  # dead letters are not "waiting"
        job(db, "k5", "library", JobState.DONE, 9000)
        job(db, "k6", "moodle", JobState.FAILED, 100)
        db.commit()
    queue = collectors.DeliveryQueue(sessions.kw["bind"], ["library", "moodle", "scim"])
    found = samples(list(queue.collect()))
    assert found[("idp_delivery_queue_jobs", ("library", "pending"))] == 2
    assert found[("idp_delivery_queue_jobs", ("library", "in_progress"))] == 1
    assert found[("idp_delivery_queue_jobs", ("library", "failed"))] == 1
    assert found[("idp_delivery_queue_jobs", ("moodle", "failed"))] == 1
    assert found[("idp_delivery_queue_jobs", ("scim", "pending"))] == 0
    assert 600 <= found[("idp_delivery_queue_oldest_seconds", ("library",))] < 900
    assert found[("idp_delivery_queue_oldest_seconds", ("moodle",))] == 0
    assert found[("idp_delivery_queue_up", ())] == 1
    assert not any("done" in labels for _, labels in found)


def test_an_unreadable_queue_is_reported_not_raised(tmp_path: Path) -> None:
    from idp.storage.base import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no tables
    try:
        found = samples(list(collectors.DeliveryQueue(engine, ["library"]).collect()))
    finally:
        engine.dispose()
    assert found == {("idp_delivery_queue_up", ()): 0}


def test_the_live_gauges_of_an_exited_process_are_dropped(tmp_path: Path) -> None:
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                            capture_output=True, text=True, check=True).stdout.strip()
    files = {name: tmp_path / name for name in (
        f"gauge_livesum_{exited}.db", f"counter_{exited}.db", f"gauge_livesum_{os.getpid()}.db")}
    for path in files.values():
        path.write_bytes(b"")
    collectors.forget_exited(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        name for name in files if not name.startswith(f"gauge_livesum_{exited}"))


_FORKED = """
import os, sys
from sqlalchemy import create_engine
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from idp.metrics import hooks
from idp.metrics.collectors import forget_exited

engine = create_engine(sys.argv[1])
capacity = engine.pool.size() + engine.pool._max_overflow
hooks.watch_pool(engine)
with engine.connect():
    pass
child = os.fork()
if child == 0:  # a worker, as a server forks it: its own pool, the same listeners
    engine.dispose(close=False)
    with engine.connect():
        pass
    os._exit(0)
os.waitpid(child, 0)

def value(name):
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry.get_sample_value(name)

print(value("idp_db_pool_capacity") / capacity, value("idp_db_connections_in_use"))
forget_exited(os.environ["PROMETHEUS_MULTIPROC_DIR"])
print(value("idp_db_pool_capacity") / capacity, value("idp_db_connections_open"))
"""


def test_a_forked_worker_adds_its_pool_until_it_exits(tmp_path: Path) -> None:
    """With several processes (multiprocess mode), a worker forked after the app was built
    adds its own pool's capacity; once it has exited, only the parent's is left."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    done = subprocess.run([sys.executable, "-c", _FORKED, f"sqlite:///{tmp_path / 'x.sqlite3'}"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2.0", "0.0", "1.0", "1.0"]
