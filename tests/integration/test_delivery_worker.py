"""The delivery worker on SQLite and PostgreSQL, with the real webhook connector posting to a
real Standard Webhooks receiver on 127.0.0.1 (or, where a fault must be exact, a connector
class of the test's own): delivered; 500 then delivered; 404 dead-lettered at once with the
answer kept; a receiver that is down retried, then dead-lettered; order per person and
connector; a worker process killed with -9 and started again (every job delivered, any repeat
under the same webhook-id); SIGTERM finishes the call in hand; two workers on PostgreSQL never
take the same job; the expiry task and the reconcile pass."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Delivery, NeverWorks, RetryLater
from connectors.registry import CONNECTOR_TYPES
from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.provisioning import expiry, outbox
from idp.provisioning.reconcile import ListingFailed, reconcile
from idp.provisioning.worker import Worker
from idp.settings.model import (
    AccessSettings,
    ConnectorSettings,
    DatabaseSettings,
    DeliverySettings,
    DirectorySettings,
    DirectoryType,
    OidcSettings,
    OrganizationSettings,
    PolicySettings,
    ResourceKind,
    ResourceSettings,
    ServerSettings,
    Settings,
)
from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import DISABLED, Identity
from idp.storage.migrate import upgrade
from idp.storage.provisioning import AccessGrant, DeliveryJob, PolicyFingerprint
from tests.conftest import _reset_postgres
from tests.support.delivery import wait_until_due
from tests.support.webhook_receiver import SECRET, Post, WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
# Small enough that a test sees retries and dead letters; large enough that a slow receiver
# (0.3 s) stays well inside each call's deadline (half the claim timeout).
FAST = {"first_retry_s": 0.01, "max_retry_s": 0.02, "max_age_s": 3600.0,
        "claim_timeout_s": 60.0, "batch_size": 10, "poll_interval_s": 0.05}


def settings(url: str, hook_url: str, **delivery: Any) -> Settings:
    directory = DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x")
    library = ResourceSettings("library", "Library card", "Читательский билет",
                               ResourceKind.LIBRARY, connectors=("hook",))
    return Settings(
        ServerSettings("https://id.example", True, "k" * 32), DatabaseSettings(url),
        OidcSettings(), {"tpu": OrganizationSettings("tpu", "TPU", "ТПУ", "tpu.ru", directory)}, {},
        access=AccessSettings({"library": library}, {"students": PolicySettings(
            "students", ("library",), affiliations=("student",), grace_days=30)}),
        connectors={"hook": ConnectorSettings("hook", "webhook", {
            "url": hook_url, "secret": SECRET, "timeout_s": 2})},
        delivery=DeliverySettings(**{**FAST, **delivery}))


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver()
    yield found
    found.close()


def people(db: Session, count: int, affiliation: str = "student") -> list[Identity]:
    return [upsert_account(db, DirectoryAccount("tpu", f"tpu-p{i}", f"p{i}", {
        "given_name": ("Анна",), "family_name": (f"Смирнова{i}",),
        "affiliation": (affiliation,)})).identity for i in range(count)]


def queue(db: Session, s: Settings, identity: Identity, kind: str = "grant",
          connector: str = "hook") -> DeliveryJob:
    now = datetime.now(UTC)
    job = DeliveryJob(idempotency_key=outbox.new_key(), connector=connector, kind=kind,
                      resource="library", identity_id=identity.id, campus_id=identity.campus_id,
                      payload={"grant": {"state": "active" if kind == "grant" else "ended",
                                         "since": now.isoformat(), "until": None},
                               "person": outbox.person_of(s, identity)},
                      state="pending", attempts=0, next_attempt_at=now, created_at=now,
                      updated_at=now)
    db.add(job)
    db.flush()
    return job


def queued(sessions: sessionmaker[Session], s: Settings, count: int,
           kinds: Iterable[str] = ("grant",)) -> list[str]:
    """``count`` people with one job of each kind, in order; their keys."""
    with sessions() as db:
        keys = [queue(db, s, person, kind).idempotency_key
                for person in people(db, count) for kind in kinds]
        db.commit()
    return keys


def jobs(sessions: sessionmaker[Session]) -> list[DeliveryJob]:
    with sessions() as db:
        return list(db.scalars(select(DeliveryJob).order_by(DeliveryJob.id)))


def worker(sessions: sessionmaker[Session], s: Settings, **connectors: Any) -> Worker:
    built = {"hook": CONNECTOR_TYPES["webhook"].create("hook", s.connectors["hook"].options),
             **connectors}
    return Worker(sessions, s.delivery, built)


def run_once(w: Worker) -> None:
    w.run(once=True)


def test_jobs_are_delivered_signed_once_each(sessions: sessionmaker[Session], database_url: str,
                                             receiver: WebhookReceiver) -> None:
    s = settings(database_url, receiver.url)
    keys = queued(sessions, s, 12, kinds=("grant", "revoke"))
    w = worker(sessions, s)
    tally = w.run(once=True)
    w.close()
    assert (tally.done, tally.retried, tally.failed) == (24, 0, 0)
    assert receiver.counts() == dict.fromkeys(keys, 1)
    assert [(j.state, j.attempts, j.claimed_by) for j in jobs(sessions)] == [("done", 1, None)] * 24
    first = receiver.posts[0].body  # the receiver library verified the signature
    assert first["type"] == "access.granted" and first["resource"] == "library"
    assert first["person"]["organizations"] == ["tpu"]


def test_a_500_is_retried_and_then_delivered(sessions: sessionmaker[Session], database_url: str,
                                             receiver: WebhookReceiver) -> None:
    receiver.answer = lambda post, seen: (500, b"database is down") if seen == 1 else (204, b"")
    s = settings(database_url, receiver.url)
    [key] = queued(sessions, s, 1)
    w = worker(sessions, s)
    run_once(w)
    [job] = jobs(sessions)
    assert (job.state, job.attempts, job.last_error) == ("pending", 1, "HTTP 500: database is down")
    wait_until_due(sessions)  # past its next attempt
    run_once(w)
    w.close()
    [job] = jobs(sessions)
    assert (job.state, job.attempts, job.idempotency_key) == ("done", 2, key)
    assert receiver.counts() == {key: 2}  # the same webhook-id both times


def test_a_404_is_dead_lettered_at_once_with_the_answer_kept(
        sessions: sessionmaker[Session], database_url: str, receiver: WebhookReceiver) -> None:
    receiver.answer = lambda post, seen: (404, b'{"error": "no such patron"}')
    s = settings(database_url, receiver.url)
    queued(sessions, s, 1)
    w = worker(sessions, s)
    run_once(w)
    w.close()
    [job] = jobs(sessions)
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.last_error == 'HTTP 404: {"error": "no such patron"}'
    with sessions() as db:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.type == "delivery.failed"))
        assert event.details["job"] == job.id and "HTTP 404" in event.details["error"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_receiver_that_is_down_is_retried_then_dead_lettered(
        sessions: sessionmaker[Session], database_url: str) -> None:
    s = settings(database_url, f"http://127.0.0.1:{free_port()}/hook", max_age_s=60)
    queued(sessions, s, 1)
    w = worker(sessions, s)
    for _ in range(200):  # each pass tries once, after the (short) backoff
        run_once(w)
        if jobs(sessions)[0].attempts >= 2:
            break
        time.sleep(0.01)
    [job] = jobs(sessions)
    assert job.state == "pending" and job.attempts == 2  # retried, and to be retried again
    with sessions() as db:  # the job grows older than max_age_s: the next failure is its last
        db.get_one(DeliveryJob, job.id).created_at -= timedelta(seconds=61)
        db.commit()
    for _ in range(200):
        run_once(w)
        if jobs(sessions)[0].state == "failed":
            break
        time.sleep(0.01)
    w.close()
    [job] = jobs(sessions)
    assert job.state == "failed" and job.attempts == 3
    assert job.last_error == "gave up after 60 s: connection refused"


@dataclass
class Scripted:
    """A connector of the test's own: ``faults`` raised in turn, then delivered."""

    name: str
    faults: list[Exception] = field(default_factory=list)
    delivered: list[tuple[str, str]] = field(default_factory=list)  # (kind, campus_id)

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        if self.faults:
            raise self.faults.pop(0)
        self.delivered.append((delivery.kind.value, delivery.person["campus_id"]))


def test_a_revoke_never_overtakes_its_grant(sessions: sessionmaker[Session],
                                            database_url: str) -> None:
    s = settings(database_url, "http://127.0.0.1:9/hook")
    with sessions() as db:
        anna, boris = people(db, 2)
        queue(db, s, anna, "grant", "script")
        queue(db, s, boris, "grant", "script")
        queue(db, s, anna, "revoke", "script")
        db.commit()
    script = Scripted("script", [RetryLater("HTTP 503: busy")])  # anna's grant fails first
    w = worker(sessions, s, script=script)
    run_once(w)
    assert script.delivered == [("grant", boris.campus_id)]  # anna's revoke waits its turn
    assert [j.state for j in jobs(sessions)] == ["pending", "done", "pending"]
    wait_until_due(sessions)  # past its next attempt
    run_once(w)  # anna's grant now; her revoke in the next batch, once the grant is done
    run_once(w)
    w.close()
    assert script.delivered == [("grant", boris.campus_id), ("grant", anna.campus_id),
                                ("revoke", anna.campus_id)]


def test_unknown_connectors_and_connector_bugs_lose_nothing(sessions: sessionmaker[Session],
                                                            database_url: str) -> None:
    s = settings(database_url, "http://127.0.0.1:9/hook")
    with sessions() as db:
        anna, boris, vera = people(db, 3)
        queue(db, s, anna, connector="gone")
        queue(db, s, boris, connector="script")
        queue(db, s, vera, connector="never")
        db.commit()
    w = worker(sessions, s, script=Scripted("script", [KeyError("campus_id")]),
               never=Scripted("never", [NeverWorks("HTTP 422: no such branch")]))
    run_once(w)
    w.close()
    gone, buggy, never = jobs(sessions)
    assert (gone.state, gone.last_error) == (
        "failed", "connector 'gone' is not configured (no [connectors.gone] table); "
                  "retry the job once it is")
    assert (buggy.state, buggy.last_error) == ("pending", "KeyError: 'campus_id'")
    assert (never.state, never.last_error) == ("failed", "HTTP 422: no such branch")


def write_config(tmp_path: Path, database_url: str, hook_url: str, **delivery: Any) -> Path:
    values = {**FAST, **delivery}
    path = tmp_path / "idp.toml"
    path.write_text(f"""
[server]
issuer = "http://127.0.0.1:8080"
dev_mode = true
secret_key = "worker-tests-secret-key-0123456789abcdef"
[database]
url = "{database_url}"
[organizations.tpu]
name = "Tomsk Polytechnic University"
scope = "tpu.ru"
[organizations.tpu.directory]
uris = ["ldap://127.0.0.1:3891"]
allow_insecure = true
base_dn = "ou=people,dc=tpu,dc=ru"
[access.resources.library]
name = "Library card"
name_ru = "Читательский билет"
kind = "library"
connectors = ["hook"]
[connectors.hook]
type = "webhook"
url = "{hook_url}"
secret = "{SECRET}"
timeout_s = 2
[delivery]
""" + "".join(f"{k} = {v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def idp(config: Path, *args: str) -> subprocess.Popen[bytes]:
    """The command in a process of its own; its log in ``worker.log`` beside the config."""
    with (config.parent / "worker.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "idp", "--config", str(config), *args],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)


def log_of(config: Path) -> str:
    return (config.parent / "worker.log").read_text(encoding="utf-8")[-3000:]


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited too long for {what}"
        time.sleep(0.02)


def slow(delay_s: float) -> Callable[[Post, int], tuple[int, bytes]]:
    def answer(_post: Post, _seen: int) -> tuple[int, bytes]:
        time.sleep(delay_s)
        return 204, b""
    return answer


def test_a_worker_killed_mid_batch_leaves_nothing_undelivered_nor_sent_under_a_new_id(
        sessions: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    receiver = WebhookReceiver(slow(0.3))
    try:
        config = write_config(tmp_path, database_url, receiver.url, claim_timeout_s=1.0)
        keys = queued(sessions, settings(database_url, receiver.url), 30)
        process = idp(config, "worker")
        wait_for(lambda: len(receiver.posts) >= 3, "the first posts")
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
        assert any(j.state == "in_progress" for j in jobs(sessions))  # claims left behind
        for _ in range(30):  # `--once` until the dead worker's claims have timed out and gone
            again = idp(config, "worker", "--once")
            assert again.wait(60) == 0, log_of(config)
            if all(j.state == "done" for j in jobs(sessions)):
                break
            time.sleep(0.3)
        assert all(j.state == "done" for j in jobs(sessions))
        counts = receiver.counts()
        assert set(counts) == set(keys)  # every job, and no post under an id of no job
        for key in (k for k, n in counts.items() if n > 1):  # a repeat is the same message
            assert len({p.raw for p in receiver.posts if p.webhook_id == key}) == 1
    finally:
        receiver.close()


def test_sigterm_finishes_the_call_in_hand_and_puts_back_the_rest(
        sessions: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    release = threading.Event()

    def held(_post: Post, _seen: int) -> tuple[int, bytes]:
        release.wait(10)
        return 204, b""

    receiver = WebhookReceiver(held)
    try:
        config = write_config(tmp_path, database_url, receiver.url, claim_timeout_s=30.0)
        s = settings(database_url, receiver.url)
        with sessions() as db:  # one person: their second job waits for the first
            [anna] = people(db, 1)
            first, second = (queue(db, s, anna).idempotency_key for _ in range(2))
            db.commit()
        process = idp(config, "worker")
        assert receiver.arrived.wait(20), log_of(config)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert process.poll() is None  # still waiting for its call in hand
        release.set()
        assert process.wait(20) == 0, log_of(config)
        assert [(j.idempotency_key, j.state) for j in jobs(sessions)] == [
            (first, "done"), (second, "pending")]
        assert receiver.counts() == {first: 1}
    finally:
        release.set()
        receiver.close()


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_take_the_same_job(postgres_server: str) -> None:
    _reset_postgres(postgres_server)
    engine, other_engine = make_engine(postgres_server), make_engine(postgres_server)
    upgrade(engine)
    receiver = WebhookReceiver(slow(0.002))
    try:
        s = settings(postgres_server, receiver.url, batch_size=20)
        sessions = make_session_factory(engine)
        keys = queued(sessions, s, 150, kinds=("grant", "revoke"))
        workers = [worker(sessions, s), worker(make_session_factory(other_engine), s)]
        threads = [threading.Thread(target=run_once, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert all(w.tally.done > 0 for w in workers)  # both took part
        assert receiver.counts() == dict.fromkeys(keys, 1)
        assert sum(w.tally.done for w in workers) == 300
        for p in (p for p in receiver.posts if p.body["type"] == "access.revoked"):
            campus_id = p.body["person"]["campus_id"]
            grant = next(i for i, q in enumerate(receiver.posts)
                         if q.body["type"] == "access.granted"
                         and q.body["person"]["campus_id"] == campus_id)
            assert grant < receiver.posts.index(p)  # each revoke after its grant
        for w in workers:
            w.close()
    finally:
        receiver.close()
        engine.dispose()
        other_engine.dispose()


def test_grace_that_ran_out_ends_and_the_day_is_recomputed_once(
        sessions: sessionmaker[Session], database_url: str) -> None:
    s = settings(database_url, "http://127.0.0.1:9/hook")
    now = datetime.now(UTC)
    with sessions() as db:
        anna, boris = people(db, 2)
        for person, until in ((anna, now - timedelta(hours=1)), (boris, now + timedelta(days=3))):
            db.add(AccessGrant(identity_id=person.id, resource="library", state="grace",
                               since=now - timedelta(days=40), until=until, because=[]))
        anna.accounts[0].directory_state = boris.accounts[0].directory_state = DISABLED
        db.commit()
    assert expiry.end_grace(sessions, s, now=now) == 1
    with sessions() as db:
        states = dict(db.execute(select(AccessGrant.identity_id, AccessGrant.state)).all())
        assert states == {anna.id: "ended", boris.id: "grace"}
        [revoke] = db.scalars(select(DeliveryJob))
        assert (revoke.kind, revoke.campus_id) == ("revoke", anna.campus_id)
    assert expiry.claim_day(sessions, now) is True
    assert expiry.claim_day(sessions, now) is False  # another worker, or a later run, that day
    assert expiry.claim_day(sessions, now + timedelta(days=1)) is True
    with sessions() as db:
        mark = db.get_one(PolicyFingerprint, expiry.DAILY_MARK)
        assert mark.fingerprint == (now + timedelta(days=1)).date().isoformat()


@dataclass
class Listing(Scripted):
    held: dict[str, list[str]] = field(default_factory=dict)

    def list_granted(self, resource: str) -> list[str]:
        return self.held.get(resource, [])


def test_reconcile_queues_what_is_missing_and_revokes_what_is_extra(
        sessions: sessionmaker[Session], database_url: str) -> None:
    s = settings(database_url, "http://127.0.0.1:9/hook")
    s = replace(s, connectors={"hook": ConnectorSettings("hook", "listing", {})})
    with sessions() as db:
        anna, boris, vera = people(db, 3)
        now = datetime.now(UTC)
        db.add(AccessGrant(identity_id=anna.id, resource="library", state="active", since=now,
                           until=None, because=[]))
        db.add(AccessGrant(identity_id=boris.id, resource="library", state="active", since=now,
                           until=None, because=[]))
        db.commit()
    # The system holds boris (right), vera (no grant: extra) and someone unknown; not anna.
    held = Listing("hook", held={"library": [boris.campus_id, vera.campus_id, "999999999"]})
    summary = reconcile(sessions, s, {"hook": held}, "hook")
    assert summary == {"connector": "hook", "jobs": 2, "resources": [{
        "resource": "library", "held": 3, "expected": 2, "grants_queued": 1,
        "revokes_queued": 1, "unknown": 1, "left_to_open_jobs": 0}]}
    queued_jobs = {(j.kind, j.campus_id) for j in jobs(sessions)}
    assert queued_jobs == {("grant", anna.campus_id), ("revoke", vera.campus_id)}
    again = reconcile(sessions, s, {"hook": held}, "hook")  # the repairs are still queued
    assert (again["jobs"], again["resources"][0]["left_to_open_jobs"]) == (0, 2)
    w = Worker(sessions, s.delivery, {"hook": held})
    w.run(once=True)
    w.close()
    assert sorted(held.delivered) == sorted([("grant", anna.campus_id),
                                             ("revoke", vera.campus_id)])



@dataclass
class Stalling(Scripted):
    """Answers nothing until its deadline (as a hung receiver), then raises RetryLater."""

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        time.sleep(1.2)  # longer than the worker's SLOW_FAILURE_S
        raise RetryLater("no answer within 1.2 s")


def test_a_stalling_connector_keeps_only_its_share_and_puts_back_the_rest(
        sessions: sessionmaker[Session], database_url: str) -> None:
    s = settings(database_url, "http://127.0.0.1:9/hook", batch_size=40)
    with sessions() as db:
        for person in people(db, 10):
            queue(db, s, person, connector="stalling")
            queue(db, s, person, connector="script")
        db.commit()
    script = Scripted("script")
    w = worker(sessions, s, stalling=Stalling("stalling"), script=script)
    tally = w.run(once=True)
    w.close()
    assert len(script.delivered) == 10  # the other connector's jobs all went through
    assert (tally.done, tally.retried, tally.released) == (10, 8, 2)  # 8 calls at most at once
    stalled = [j for j in jobs(sessions) if j.connector == "stalling"]
    assert sorted((j.attempts, j.state) for j in stalled) == [(0, "pending")] * 2 + [
        (1, "pending")] * 8
    put_back = [j.last_error for j in stalled if j.attempts == 0]
    assert put_back == ["not attempted: connector stalling had just failed "
                        "(no answer within 1.2 s)"] * 2

@dataclass
class DownListing(Scripted):
    def list_granted(self, resource: str) -> list[str]:
        raise RetryLater("connection refused")


def test_reconcile_with_the_system_down_says_so_and_queues_nothing(
        sessions: sessionmaker[Session], database_url: str) -> None:
    s = settings(database_url, "http://127.0.0.1:9/hook")
    s = replace(s, connectors={"hook": ConnectorSettings("hook", "listing", {})})
    with pytest.raises(ListingFailed) as failed:
        reconcile(sessions, s, {"hook": DownListing("hook")}, "hook")
    assert "could not list library: connection refused" in failed.value.public
    assert jobs(sessions) == []
