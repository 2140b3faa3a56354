"""What a scrape reads when it happens, and the scrape itself: the delivery outbox's depth and
age per connector (one grouped query with a short deadline), and, with several worker
processes, the merge of every process's files (``prometheus_client.multiprocess``), after
forgetting the live gauges of processes that have exited."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from idp.metrics.definitions import REGISTRY
from idp.storage.base import utcnow
from idp.storage.provisioning import DeliveryJob, JobState

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
QUEUE_DEADLINE_MS = 2000
_QUEUED = (JobState.PENDING, JobState.IN_PROGRESS, JobState.FAILED)
_PID_FILE = re.compile(r"_(\d+)\.db$")


class DeliveryQueue(Collector):
    """``idp_delivery_queue_jobs{connector,state}`` (pending, in_progress, failed),
    ``idp_delivery_queue_oldest_seconds{connector}`` (the oldest job not yet delivered nor
    dead-lettered) and ``idp_delivery_queue_up`` (0 when the database did not answer).
    Every configured connector is listed, with 0 when nothing waits for it."""

    def __init__(self, engine: Engine, connectors: Iterable[str]) -> None:
        self.engine = engine
        self.connectors = tuple(connectors)

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("idp_delivery_queue_jobs", "Delivery jobs in the outbox by "
                                 "connector and state (pending includes those waiting for a "
                                 "retry; failed: dead-lettered).", labels=["connector", "state"])
        oldest = GaugeMetricFamily("idp_delivery_queue_oldest_seconds", "Age of the oldest "
                                   "pending or in-progress delivery job, by connector (0: none).",
                                   labels=["connector"])
        up = GaugeMetricFamily("idp_delivery_queue_up", "1 when this scrape could read the "
                               "delivery outbox, 0 when the database did not answer in time.")
        try:
            rows = self._read()
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        now = utcnow()
        counts: dict[tuple[str, str], int] = {}
        ages: dict[str, float] = {}
        for connector, state, count, first in rows:
            counts[(connector, state)] = count
            if state != JobState.FAILED and first is not None:
                age = (now - _aware(first)).total_seconds()
                ages[connector] = max(ages.get(connector, 0.0), age)
        for connector in sorted({*self.connectors, *(c for c, _ in counts)}):
            for state in _QUEUED:
                jobs.add_metric([connector, state.value], counts.get((connector, state.value), 0))
            oldest.add_metric([connector], max(ages.get(connector, 0.0), 0.0))
        up.add_metric([], 1)
        yield from (jobs, oldest, up)

    def _read(self) -> list[tuple[str, str, int, datetime | None]]:
        query = (select(DeliveryJob.connector, DeliveryJob.state, func.count(),
                        func.min(DeliveryJob.created_at))
                 .where(DeliveryJob.state.in_([s.value for s in _QUEUED]))
                 .group_by(DeliveryJob.connector, DeliveryJob.state))
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {QUEUE_DEADLINE_MS}"))
            return [(str(c), str(s), int(n), first) for c, s, n, first in conn.execute(query)]


def _aware(moment: datetime | str) -> datetime:
    if isinstance(moment, str):  # SQLite hands min() back as text
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Together(Collector):
    def __init__(self, parts: list[Collector]) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


def scrape(queue: DeliveryQueue | None) -> tuple[bytes, str]:
    """The text exposition of every metric, merged over the worker processes when they share
    a directory, and its content type."""
    directory = os.environ.get(MULTIPROC_ENV)
    parts: list[Collector] = []
    if directory:
        forget_exited(directory)
        parts.append(MultiProcessCollector(None, path=directory))  # type: ignore[no-untyped-call]
    else:
        parts.append(REGISTRY)
    if queue is not None:
        parts.append(queue)
    return generate_latest(_Together(parts)), CONTENT_TYPE_LATEST


def forget_exited(directory: str) -> None:
    """Drop the live gauges of processes that have exited (a worker restarted, or killed),
    as prometheus-client asks of a multiprocess set-up; their counters stay counted."""
    pids = {int(found.group(1)) for name in os.listdir(directory)
            if (found := _PID_FILE.search(name))}
    for pid in pids:
        if not _alive(pid):
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
