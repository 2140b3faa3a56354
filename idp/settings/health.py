"""``[health]``: which parts of ``/readyz`` are required (their failure answers 503) and each
check's deadline, validated like every other section: every unknown part is a problem."""

from __future__ import annotations

from collections.abc import Mapping

from idp.settings.model import HealthSettings, OrganizationSettings, ThrottleSettings
from idp.settings.reader import TableReader

PARTS = ("database", "migrations", "redis")
DIRECTORY_PREFIX = "directory:"


def part_names(organizations: Mapping[str, object], redis: bool) -> tuple[str, ...]:
    """Every part /readyz checks, in the order it lists them."""
    fixed = [p for p in PARTS if p != "redis" or redis]
    return (*fixed, *(DIRECTORY_PREFIX + org for org in organizations))


def parse_health(r: TableReader, organizations: Mapping[str, OrganizationSettings],
                 throttle: ThrottleSettings) -> HealthSettings:
    defaults = HealthSettings()
    required: tuple[str, ...] | None = None
    if "required" in r.data:
        required = r.str_list("required")
        known = part_names(organizations, redis=True)
        for part in required:
            if part == "redis" and not throttle.redis_url:
                r.problem("required", "'redis' is not checked: [throttle] redis_url is empty")
            elif part not in known:
                r.problem("required", f"{part!r} is not a part /readyz checks (one of "
                          f"{', '.join(repr(k) for k in known)})")
        if len(set(required)) != len(required):
            r.problem("required", "names a part twice")
    settings = HealthSettings(
        required=required,
        timeout_s=r.number("timeout_s", defaults.timeout_s, minimum=0.1, maximum=10),
        cache_s=r.number("cache_s", defaults.cache_s, minimum=0, maximum=60),
    )
    r.done()
    return settings


def required_parts(settings: HealthSettings, throttle: ThrottleSettings) -> frozenset[str]:
    """The parts given, or by default the database, its migrations and Redis when used."""
    if settings.required is not None:
        return frozenset(settings.required)
    return frozenset(p for p in PARTS if p != "redis" or throttle.redis_url)
