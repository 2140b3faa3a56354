"""Connector types by the name a ``[connectors.NAME]`` table gives as ``type``.

A literal dict, so the set of types is what this file says: no type is loaded by a dotted
path from the configuration. Adding a connector is a module and a line here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors import koha, moodle, scim, webhook
from connectors.base import Connector


@dataclass(frozen=True)
class ConnectorType:
    """How to check a type's options (every problem as ``key: message``, for check-config)
    and build an instance from options that passed."""

    problems: Callable[[Mapping[str, Any]], list[str]]
    create: Callable[[str, Mapping[str, Any]], Connector]


CONNECTOR_TYPES: dict[str, ConnectorType] = {
    "webhook": ConnectorType(problems=webhook.problems, create=webhook.create),
    "koha": ConnectorType(problems=koha.problems, create=koha.create),
    "scim": ConnectorType(problems=scim.problems, create=scim.create),
    "moodle": ConnectorType(problems=moodle.problems, create=moodle.create),
}
