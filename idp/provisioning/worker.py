"""The delivery worker: claim a batch of due jobs, deliver them through their connectors on a
small thread pool, write each result down; between batches, run the periodic tasks.

Delivery is at least once: a job is claimed and committed before its connector is called,
and its result is written in a new transaction afterwards, so a worker that dies between the
two leaves a claim that another worker takes again after ``claim_timeout_s``, under the same
idempotency key. One connector that is down never holds up the rest: each connector has at
most ``PER_CONNECTOR`` calls in flight, every call has a deadline, and after a slow failure
the batch's jobs of that connector that had not started go back to wait with it. When asked
to stop, the worker lets the calls in flight finish, puts back those not started, and
returns. Several workers may share a PostgreSQL database; on SQLite run one
(``idp.provisioning.claims``).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextvars import copy_context
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from connectors.base import Connector, Delivery, DeliveryKind, NeverWorks, RetryLater
from idp import request_id as request_ids
from idp.provisioning.claims import (
    Claimed,
    Dead,
    Done,
    Outcome,
    Recorder,
    Release,
    Retry,
    Tally,
    claim,
)
from idp.settings.model import DeliverySettings
from idp.storage.base import utcnow

log = logging.getLogger(__name__)
POOL_SIZE = 16
PER_CONNECTOR = 8  # calls in flight per connector: a dead one keeps half the pool at most
MAX_DEADLINE_S = 60.0
SLOW_FAILURE_S = 1.0  # a failure that took this long holds back the batch's other jobs of it
RECORD_EVERY_S = 0.2  # results are written in groups, at least this often


@dataclass(frozen=True)
class Periodic:
    """A task the worker runs between batches, every ``interval_s`` seconds (first at start)."""

    interval_s: float
    run: Callable[[], object]
    name: str = ""


def worker_id() -> str:
    """``host:pid:random``: who holds a claim."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def deadline_for(delivery: DeliverySettings) -> float:
    """Each call's deadline: well inside the claim timeout, so no live worker's job is taken
    over by another."""
    return max(0.1, min(MAX_DEADLINE_S, delivery.claim_timeout_s / 2))


def deliver_one(connectors: Mapping[str, Connector], job: Claimed, deadline_s: float) -> Outcome:
    """Call the job's connector once, under the id of the request that queued the job (the
    batch's when it has none), and say what became of it; never raises."""
    with request_ids.bound(job.request_id or request_ids.current()):
        outcome = _call(connectors, job, deadline_s)
        if isinstance(outcome, Done):
            log.info("delivery job %d (%s, %s, %s) delivered", job.id, job.connector, job.kind,
                     job.resource)
        elif isinstance(outcome, Retry):  # (a dead letter is logged when it is written)
            log.info("delivery job %d (%s, %s, %s) not delivered, to be retried: %s", job.id,
                     job.connector, job.kind, job.resource, outcome.error)
        return outcome


def _call(connectors: Mapping[str, Connector], job: Claimed, deadline_s: float) -> Outcome:
    connector = connectors.get(job.connector)
    if connector is None:
        return Dead(f"connector {job.connector!r} is not configured (no [connectors."
                    f"{job.connector}] table); retry the job once it is")
    try:
        delivery = Delivery(key=job.key, kind=DeliveryKind(job.kind), resource=job.resource,
                            grant=job.payload["grant"], person=job.payload["person"],
                            held=tuple(job.payload.get("held", ())))
        connector.deliver(delivery, deadline_s=deadline_s)
    except RetryLater as exc:
        return Retry(str(exc) or type(exc).__name__, exc.retry_after_s)
    except NeverWorks as exc:
        return Dead(str(exc) or type(exc).__name__)
    except Exception as exc:  # a bug in a connector must not lose the job
        log.exception("connector %s raised on job %d", job.connector, job.id)
        return Retry(f"{type(exc).__name__}: {exc}")
    return Done()


@dataclass
class Batch:
    """One claimed batch in flight: per-connector queues, the futures, results not yet written."""

    jobs: list[Claimed]
    queues: dict[str, deque[Claimed]] = field(default_factory=dict)
    running: dict[Future[Outcome], tuple[Claimed, float]] = field(default_factory=dict)
    in_flight: Counter[str] = field(default_factory=Counter)
    results: list[tuple[Claimed, Outcome]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for job in self.jobs:
            self.queues.setdefault(job.connector, deque()).append(job)

    def put_back(self, connector: str, outcome: Release) -> None:
        queue = self.queues.pop(connector, deque())
        self.results.extend((job, outcome) for job in queue)


@dataclass
class Worker:
    """Delivers batches for one worker id; ``stop`` ends ``run`` after the calls in flight."""

    sessions: Callable[[], Session]
    delivery: DeliverySettings
    connectors: Mapping[str, Connector]
    worker: str = field(default_factory=worker_id)
    stop: threading.Event = field(default_factory=threading.Event)
    tally: Tally = field(default_factory=Tally)

    def __post_init__(self) -> None:
        self.recorder = Recorder(self.worker, self.delivery)
        self.pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="delivery")

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def run(self, periodic: Sequence[Periodic] = (), *, once: bool = False) -> Tally:
        """Until ``stop`` is set (or, with ``once``, until nothing that was due at the start
        is left), deliver batch after batch; run each periodic task when it is due."""
        started = utcnow()
        next_run = [time.monotonic()] * len(periodic)
        ran_once = False
        while not self.stop.is_set():
            if not ran_once or not once:
                self._periodic(periodic, next_run)
                ran_once = True
            try:
                claimed = self.run_batch(due_by=started if once else None)
            except (OperationalError, InterfaceError) as exc:
                if once:
                    raise
                # Results not written stay claimed: taken again after claim_timeout_s.
                log.error("database unavailable (%s); trying again", type(exc).__name__)
                self.stop.wait(max(1.0, self.delivery.poll_interval_s))
                continue
            if claimed == 0:
                if once:
                    break
                self.stop.wait(self._idle_wait(next_run))
        return self.tally

    def _idle_wait(self, next_run: list[float]) -> float:
        wait_s = self.delivery.poll_interval_s
        if next_run:
            wait_s = min(wait_s, max(0.0, min(next_run) - time.monotonic()))
        return wait_s

    def _periodic(self, periodic: Sequence[Periodic], next_run: list[float]) -> None:
        for i, task in enumerate(periodic):
            if self.stop.is_set() or time.monotonic() < next_run[i]:
                continue
            with request_ids.bound():  # each run's log lines and audit events: one id
                try:
                    task.run()
                except Exception:  # one failing task must not stop deliveries
                    log.exception("periodic task %s failed", task.name or task.run)
            next_run[i] = time.monotonic() + task.interval_s

    def run_batch(self, *, due_by: datetime | None = None) -> int:
        """Claim one batch and deliver it; the number of jobs claimed. The batch has an id of
        its own (``idp.request_id``), which its log lines carry; each job is delivered, and its
        audit events written, under the id of the request that queued it (the batch's for a
        job queued before jobs kept one)."""
        with request_ids.bound():
            return self._claim_and_deliver(due_by)

    def _claim_and_deliver(self, due_by: datetime | None) -> int:
        with self.sessions() as db:
            jobs = claim(db, worker=self.worker, now=utcnow(), limit=self.delivery.batch_size,
                         claim_timeout_s=self.delivery.claim_timeout_s, due_by=due_by)
        if jobs:
            self._deliver(Batch(jobs))
        return len(jobs)

    def _deliver(self, batch: Batch) -> None:
        deadline_s = deadline_for(self.delivery)
        last_write = time.monotonic()
        while batch.queues or batch.running:
            if self.stop.is_set():
                for name in list(batch.queues):
                    batch.put_back(name, Release())
            self._start(batch, deadline_s)
            if batch.running:
                finished, _ = wait(list(batch.running), timeout=RECORD_EVERY_S,
                                   return_when=FIRST_COMPLETED)
                for future in finished:
                    self._finished(batch, future)
            if batch.results and (time.monotonic() - last_write >= RECORD_EVERY_S
                                  or not (batch.queues or batch.running)):
                self._write(batch)
                last_write = time.monotonic()
        if batch.results:
            self._write(batch)

    def _start(self, batch: Batch, deadline_s: float) -> None:
        now = utcnow()
        too_old = timedelta(seconds=self.delivery.claim_timeout_s / 2)
        for name in list(batch.queues):
            queue = batch.queues[name]
            while (queue and batch.in_flight[name] < PER_CONNECTOR
                   and len(batch.running) < POOL_SIZE):
                job = queue.popleft()
                if now - job.claimed_at > too_old:  # held too long in this batch: let go
                    batch.results.append((job, Release()))
                    continue
                future = self.pool.submit(copy_context().run,  # with the batch's id
                                          deliver_one, self.connectors, job, deadline_s)
                batch.running[future] = (job, time.monotonic())
                batch.in_flight[name] += 1
            if not queue:
                del batch.queues[name]

    def _finished(self, batch: Batch, future: Future[Outcome]) -> None:
        job, began = batch.running.pop(future)
        batch.in_flight[job.connector] -= 1
        outcome = future.result()
        batch.results.append((job, outcome))
        if (isinstance(outcome, Retry) and time.monotonic() - began >= SLOW_FAILURE_S
                and job.connector in batch.queues):
            wait_s = self.recorder.backoff(1, outcome.retry_after_s)
            batch.put_back(job.connector, Release(
                f"not attempted: connector {job.connector} had just failed ({outcome.error})",
                utcnow() + timedelta(seconds=wait_s)))

    def _write(self, batch: Batch) -> None:
        results, batch.results = batch.results, []
        with self.sessions() as db:
            self.tally.add(self.recorder.record(db, results, now=utcnow()))
