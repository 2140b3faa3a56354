"""The connector instances of ``[connectors.NAME]``, built through ``connectors.registry``
(the one literal map from ``type`` to implementation; nothing is loaded by a dotted path)."""

from __future__ import annotations

from connectors.base import Connector
from connectors.registry import CONNECTOR_TYPES
from idp.errors import ConfigError
from idp.settings.model import Settings


def build_connectors(settings: Settings) -> dict[str, Connector]:
    """Every configured connector by name; ``ConfigError`` listing every one that cannot be
    built (the settings loader has checked them already, so this is a safety net)."""
    built: dict[str, Connector] = {}
    problems: list[str] = []
    for name, configured in settings.connectors.items():
        kind = CONNECTOR_TYPES.get(configured.type)
        if kind is None:
            problems.append(f"connectors.{name}.type: unknown connector type {configured.type!r}")
            continue
        try:
            built[name] = kind.create(name, configured.options)
        except ValueError as exc:
            problems.append(f"connectors.{name}: {exc}")
    if problems:
        raise ConfigError(problems)
    return built
