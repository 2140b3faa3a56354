"""The validated settings of access as frozen dataclasses: resources and the policies that
grant them (``[access]``), connector instances (``[connectors]``), the worker's retries
(``[delivery]``) and the passes (``[pass]``). Read through ``idp.settings.model``, which
re-exports them; checked by ``idp.settings.access`` and ``idp.settings.passes``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any


class ResourceKind(StrEnum):
    LIBRARY = "library"
    SPORTS = "sports"
    CULTURE = "culture"
    COURSE = "course"
    SERVICE = "service"


@dataclass(frozen=True)
class ResourceSettings:
    """``[access.resources.ID]``: something a person may use, offered by ``provider`` (an
    organization id; empty: the consortium) and delivered through ``connectors``."""

    id: str
    name: str
    name_ru: str
    kind: ResourceKind
    provider: str = ""
    connectors: tuple[str, ...] = ()
    # An eduPerson entitlement URI carried in the ``entitlements`` claim while the grant holds.
    entitlement: str = ""


@dataclass(frozen=True)
class PolicySettings:
    """``[access.policies.ID]``: who gets ``resources``. Every condition given must hold for
    one and the same account; an empty one holds for any."""

    id: str
    resources: tuple[str, ...]
    organizations: tuple[str, ...] = ()
    affiliations: tuple[str, ...] = ()
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    valid_from: date | None = None
    valid_until: date | None = None
    grace_days: int = 0


@dataclass(frozen=True)
class AccessSettings:
    resources: Mapping[str, ResourceSettings] = field(default_factory=dict)
    policies: Mapping[str, PolicySettings] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectorSettings:
    """``[connectors.NAME]``: a connector instance; ``options`` are its type's own keys, with
    ``*_file`` secrets already read (``secret_file`` arrives as ``secret``)."""

    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DeliverySettings:
    """``[delivery]``: how the worker retries deliveries (idp.provisioning.worker)."""

    first_retry_s: float = 10.0
    max_retry_s: float = 3600.0
    max_age_s: float = 259200.0
    claim_timeout_s: float = 300.0
    batch_size: int = 100
    poll_interval_s: float = 2.0


@dataclass(frozen=True)
class PassSettings:
    """``[pass]``: the signed sports and culture passes on "My Campus ID" (docs/connectors.md)."""

    # How long one pass is valid, in seconds; the page renews it well before.
    lifetime_s: int = 300
    # How long a verifier may use the revocation list (/pass/revoked) before fetching it again.
    revocation_ttl_s: int = 60
