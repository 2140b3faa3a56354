"""The registry maps ``type`` to a connector type, and what it builds fits the contract."""

from __future__ import annotations

import base64

from connectors.base import Connector, ListingConnector
from connectors.registry import CONNECTOR_TYPES

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def test_webhook_is_registered_and_builds_a_connector() -> None:
    webhook = CONNECTOR_TYPES["webhook"]
    options = {"url": "https://library.example.org/hooks", "secret": SECRET, "timeout_s": 3}
    assert webhook.problems(options) == []
    connector = webhook.create("library_hook", options)
    assert isinstance(connector, Connector)
    assert connector.name == "library_hook"
    assert not isinstance(connector, ListingConnector)  # a webhook cannot say what it granted


def test_the_secret_stays_out_of_repr() -> None:
    connector = CONNECTOR_TYPES["webhook"].create(
        "hook", {"url": "https://library.example.org/hooks", "secret": SECRET})
    shown = repr(connector)
    assert SECRET not in shown and SECRET.removeprefix("whsec_") not in shown
    assert "library.example.org" in repr(connector)
