"""``[health]``: the parts /readyz requires by default, and every wrong name listed at once."""

from __future__ import annotations

from typing import Any

from idp.settings.health import required_parts
from idp.settings.load import parse_settings
from idp.settings.model import HealthSettings, Settings, ThrottleSettings

BASE: dict[str, Any] = {
    "server": {"issuer": "https://id.example.org", "secret_key": "k" * 40},
    "organizations": {"tpu": {"name": "TPU", "scope": "tpu.ru", "directory": {
        "uris": ["ldaps://ldap.tpu.ru"], "base_dn": "dc=tpu,dc=ru"}}},
}


def parse(**tables: Any) -> tuple[Settings, list[str]]:
    problems: list[str] = []
    return parse_settings({**BASE, **tables}, problems), problems


def test_default_requires_the_database_and_redis_only_when_used() -> None:
    settings, problems = parse()
    assert not problems
    assert required_parts(settings.health, settings.throttle) == {"database", "migrations"}
    with_redis = ThrottleSettings(redis_url="redis://127.0.0.1:6379/0")
    assert required_parts(HealthSettings(), with_redis) == {"database", "migrations", "redis"}


def test_a_directory_may_be_required() -> None:
    settings, problems = parse(health={"required": ["database", "directory:tpu"]})
    assert not problems
    assert required_parts(settings.health, settings.throttle) == {"database", "directory:tpu"}


def test_every_wrong_part_is_listed() -> None:
    _, problems = parse(health={"required": ["database", "directory:nsu", "ldap", "redis",
                                             "database"], "timeout_s": 0})
    assert problems == [
        "health.required: 'directory:nsu' is not a part /readyz checks (one of 'database', "
        "'migrations', 'redis', 'directory:tpu')",
        "health.required: 'ldap' is not a part /readyz checks (one of 'database', "
        "'migrations', 'redis', 'directory:tpu')",
        "health.required: 'redis' is not checked: [throttle] redis_url is empty",
        "health.required: names a part twice",
        "health.timeout_s: must be between 0.1 and 10",
    ]
