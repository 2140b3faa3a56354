"""What the delivery tests of every connector share: retries fast enough to watch, one
organization whose students get one resource through one connector, a student's first
login with its grant queued, and the outbox as it stands."""

from __future__ import annotations

import time
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.provisioning.grants import recompute
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
    ResourceSettings,
    ServerSettings,
    Settings,
)
from idp.storage.base import utcnow
from idp.storage.identities import Identity
from idp.storage.provisioning import DeliveryJob, JobState

# claim_timeout_s: long, because a worker lets go of a job still unstarted after half of it,
# and a loaded machine can take seconds between a claim's timestamp and its commit.
FAST = DeliverySettings(first_retry_s=0.01, max_retry_s=0.02, max_age_s=3600.0,
                        claim_timeout_s=60.0, batch_size=10, poll_interval_s=0.05)


def one_resource(database_url: str, resource: ResourceSettings, connector: ConnectorSettings,
                 *, grace_days: int = 0) -> Settings:
    """TPU (tpu.ru), whose students get ``resource``, delivered through ``connector``."""
    directory = DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x")
    return Settings(
        ServerSettings("https://id.example", True, "k" * 32), DatabaseSettings(database_url),
        OidcSettings(), {"tpu": OrganizationSettings("tpu", "TPU", "ТПУ", "tpu.ru", directory)},
        {},
        access=AccessSettings({resource.id: resource}, {"students": PolicySettings(
            "students", (resource.id,), affiliations=("student",), grace_days=grace_days)}),
        connectors={connector.name: connector}, delivery=FAST)


def student_logs_in(sessions: sessionmaker[Session], s: Settings, username: str,
                    names: Mapping[str, str] | None = None,
                    email: str | None = None) -> Identity:
    """A TPU student's first login: account, identity, and the grant recomputed and queued."""
    names = names or {"given_name": "Анна", "family_name": "Смирнова"}
    with sessions() as db:
        identity = upsert_account(db, DirectoryAccount("tpu", f"tpu-{username}", username, {
            **{claim: (value,) for claim, value in names.items()},
            "email": (email or f"{username}@tpu.ru",), "affiliation": ("student",)})).identity
        assert len(recompute(db, s, [identity], reason="login")) == 1
        db.commit()
        return identity


def jobs(sessions: sessionmaker[Session]) -> list[DeliveryJob]:
    with sessions() as db:
        return list(db.scalars(select(DeliveryJob).order_by(DeliveryJob.id)))


def wait_until_due(sessions: sessionmaker[Session], timeout_s: float = 10.0) -> None:
    """Until every pending job's next attempt has come by the clock the worker reads (a run
    with ``once`` takes only what is due at its start): no fixed sleep that a loaded machine,
    or a wall clock set back, can outlast."""
    give_up = time.monotonic() + timeout_s
    while True:
        with sessions() as db:
            latest = db.scalar(select(func.max(DeliveryJob.next_attempt_at)).where(
                DeliveryJob.state == JobState.PENDING.value))
        if latest is None or utcnow() > latest:
            return
        if time.monotonic() > give_up:
            raise AssertionError(f"a pending job is still not due at {utcnow()}: {latest}")
        time.sleep(0.005)
