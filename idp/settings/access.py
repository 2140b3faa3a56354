"""``[access]``, ``[connectors]`` and ``[delivery]``: resources, the policies that grant them,
the connector instances that deliver grants, and the worker's retry schedule.

Every cross-reference is checked here, all problems at once: a policy naming an unknown
resource, organization or attribute (a claim name that no organization maps), a resource
naming an unknown connector or provider, an unknown connector type (the registry in
``connectors``), a bad date or window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from connectors.registry import CONNECTOR_TYPES
from idp.settings.model import (
    AccessSettings,
    ConnectorSettings,
    DeliverySettings,
    MatchClaim,
    OrganizationSettings,
    PolicySettings,
    ResourceKind,
    ResourceSettings,
)
from idp.settings.reader import TableReader

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Claim names every directory type maps by its preset (idp.directory.presets), so a policy may
# name them without an operator's mapping.
PRESET_CLAIMS = frozenset({"given_name", "family_name", "display_name", "email", "affiliation",
                           "entitlement", "middle_name"})
# Linking identifiers: only their keyed fingerprints are kept (docs/architecture.md).
IDENTIFIERS = frozenset({MatchClaim.SNILS.value, MatchClaim.BIRTHDATE.value})
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def parse_access(r: TableReader, organizations: Mapping[str, OrganizationSettings],
                 connector_names: frozenset[str]) -> AccessSettings:
    resources_table = r.sub("resources")
    resources = {rid: _resource(resources_table, rid, organizations, connector_names)
                 for rid in resources_table.data}
    mapped = PRESET_CLAIMS | {name for org in organizations.values()
                              for name in org.directory.attributes}
    policies_table = r.sub("policies")
    policies = {pid: _policy(policies_table, pid, resources, organizations, mapped)
                for pid in policies_table.data}
    r.done()
    return AccessSettings(resources=resources, policies=policies)


def _resource(table: TableReader, rid: str, organizations: Mapping[str, OrganizationSettings],
              connector_names: frozenset[str]) -> ResourceSettings:
    r = table.sub(rid, required=True)
    _check_id(r, rid, "a resource id")
    resource = ResourceSettings(
        id=rid, name=r.string("name"), name_ru=r.string("name_ru", ""),
        kind=r.choice("kind", ResourceKind), provider=r.string("provider", ""),
        connectors=r.str_list("connectors", []), entitlement=r.string("entitlement", ""),
    )
    if resource.provider and resource.provider not in organizations:
        r.problem("provider", f"{resource.provider!r} is not a configured organization")
    for name in resource.connectors:
        if name not in connector_names:
            r.problem("connectors", f"{name!r} is not a connector in [connectors]")
    if resource.entitlement and not _URI.match(resource.entitlement):
        r.problem("entitlement", f"{resource.entitlement!r} is not a URI")
    r.done()
    return resource


def _policy(table: TableReader, pid: str, resources: Mapping[str, ResourceSettings],
            organizations: Mapping[str, OrganizationSettings],
            mapped: frozenset[str]) -> PolicySettings:
    r = table.sub(pid, required=True)
    _check_id(r, pid, "a policy id")
    names = r.str_list("resources", non_empty=True)
    for name in names:
        if name not in resources:
            r.problem("resources", f"{name!r} is not a resource in [access.resources]")
    orgs = r.str_list("organizations", [])
    for org in orgs:
        if org not in organizations:
            r.problem("organizations", f"{org!r} is not a configured organization")
    policy = PolicySettings(
        id=pid, resources=names, organizations=orgs,
        affiliations=r.str_list("affiliations", []),
        attributes=_attributes(r, mapped),
        valid_from=_date(r, "valid_from"), valid_until=_date(r, "valid_until"),
        grace_days=r.integer("grace_days", 0, minimum=0, maximum=3650),
    )
    if policy.valid_from and policy.valid_until and policy.valid_until <= policy.valid_from:
        r.problem("valid_until", "must be after valid_from")
    r.done()
    return policy


def _attributes(r: TableReader, mapped: frozenset[str]) -> dict[str, tuple[str, ...]]:
    table = r.table("attributes")
    result: dict[str, tuple[str, ...]] = {}
    for claim, values in table.items():
        key = f"{r.key('attributes')}.{claim}"
        if claim in IDENTIFIERS:
            r.problems.append(f"{key}: {claim!r} is an identifier used only for linking; "
                              "it is never stored, so no policy can test it")
        elif claim not in mapped:
            r.problems.append(f"{key}: no organization maps {claim!r} in "
                              "[organizations.X.directory.attributes]")
        if (not isinstance(values, list) or not values
                or not all(isinstance(v, str) for v in values)):
            r.problems.append(f"{key}: must be a non-empty list of strings")
            continue
        result[str(claim)] = tuple(values)
    return result


def _date(r: TableReader, name: str) -> date | None:
    r._seen.add(name)
    value = r.data.get(name)
    if value is None:
        return None
    if isinstance(value, date):  # TOML's own local date: valid_from = 2026-09-01
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    r.problem(name, f"{value!r} is not a date (YYYY-MM-DD)")
    return None


def _check_id(r: TableReader, value: str, what: str) -> None:
    if not _ID.match(value):
        r.problems.append(f"{r.path}: {what} is lower-case letters, digits, '-' or '_'")


def parse_connectors(r: TableReader) -> dict[str, ConnectorSettings]:
    result: dict[str, ConnectorSettings] = {}
    for name in r.data:
        table = r.sub(name, required=True)
        _check_id(table, name, "a connector name")
        kind = table.string("type")
        options = _options(table)
        connector_type = CONNECTOR_TYPES.get(kind)
        if connector_type is None:
            if kind:
                known = ", ".join(sorted(CONNECTOR_TYPES))
                table.problem("type", f"{kind!r} is not a connector type (known: {known})")
            continue
        table.problems.extend(f"{table.path}.{p}" for p in connector_type.problems(options))
        result[name] = ConnectorSettings(name=name, type=kind, options=options)
    return result


def _options(r: TableReader) -> dict[str, Any]:
    """The type's own keys as given, each ``KEY_file`` read into ``KEY`` (secrets stay out of
    the file and of environment dumps)."""
    options: dict[str, Any] = {}
    for key, value in r.data.items():
        if key == "type":
            continue
        if key.endswith("_file") and isinstance(value, str):
            try:
                options[key.removesuffix("_file")] = Path(value).read_text("utf-8").strip()
            except OSError as exc:
                r.problem(key, f"cannot be read: {exc.strerror}")
            continue
        options[key] = value
    return options


def parse_delivery(r: TableReader) -> DeliverySettings:
    d = DeliverySettings()
    settings = DeliverySettings(
        first_retry_s=r.number("first_retry_s", d.first_retry_s, minimum=0.01, maximum=86400),
        max_retry_s=r.number("max_retry_s", d.max_retry_s, minimum=0.01, maximum=7 * 86400),
        max_age_s=r.number("max_age_s", d.max_age_s, minimum=1, maximum=90 * 86400),
        claim_timeout_s=r.number("claim_timeout_s", d.claim_timeout_s, minimum=1, maximum=86400),
        batch_size=r.integer("batch_size", d.batch_size, minimum=1, maximum=10000),
        poll_interval_s=r.number("poll_interval_s", d.poll_interval_s, minimum=0.05, maximum=3600),
    )
    if settings.max_retry_s < settings.first_retry_s:
        r.problem("max_retry_s", "must not be less than first_retry_s")
    r.done()
    return settings
