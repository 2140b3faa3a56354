"""What the delivery tests of every connector share: retries fast enough to watch, one
organization whose students get one resource through one connector, a student's first
login with its grant queued, and the outbox as it stands."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
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
from idp.storage.identities import Identity
from idp.storage.provisioning import DeliveryJob

FAST = DeliverySettings(first_retry_s=0.01, max_retry_s=0.02, max_age_s=3600.0,
                        claim_timeout_s=4.0, batch_size=10, poll_interval_s=0.05)


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
