"""The demo's webhook receiver against the real webhook connector on 127.0.0.1: what the
connector signs it records once (a repeat under the same ``webhook-id`` is acknowledged, not
recorded again), and a message signed with another secret it refuses, which the connector
takes as "never works"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.base import Delivery, DeliveryKind, NeverWorks
from connectors.registry import CONNECTOR_TYPES
from demo.webhook_receiver import WebhookReceiver, new_secret

SECRET = new_secret()
GRANT = Delivery(
    key="msg_demo-receiver-1", kind=DeliveryKind.GRANT, resource="library",
    grant={"state": "active", "since": "2026-09-01T08:00:00+00:00", "until": None},
    person={"campus_id": "123456782", "sub": "Zx81", "name": "Дарья Орлова",
            "email": "demo@tsu.ru", "organizations": ["tsu"], "affiliations": ["student@tsu.ru"]})


@pytest.fixture
def echoed() -> list[str]:
    return []


@pytest.fixture
def receiver(tmp_path: Path, echoed: list[str]) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(SECRET, log_path=tmp_path / "webhooks.jsonl", echo=echoed.append)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def test_a_signed_delivery_is_recorded_logged_and_printed_once(
        receiver: WebhookReceiver, echoed: list[str], tmp_path: Path) -> None:
    hook = CONNECTOR_TYPES["webhook"].create("demo_webhook", {"url": receiver.url, "secret": SECRET})
    hook.deliver(GRANT, deadline_s=10)
    hook.deliver(GRANT, deadline_s=10)  # a retry whose first answer was lost
    [received] = receiver.received
    assert (received.webhook_id, received.type, received.resource, received.campus_id,
            received.state, received.until) == (
        "msg_demo-receiver-1", "access.granted", "library", "123456782", "active", None)
    assert received.body["person"]["affiliations"] == ["student@tsu.ru"]
    [logged] = (tmp_path / "webhooks.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(logged)["webhook_id"] == "msg_demo-receiver-1"
    assert echoed == [
        "webhook msg_demo-receiver-1: access.granted library -> 123456782 (Дарья Орлова) active"]

    web = requests.Session()
    web.trust_env = False
    listing = web.get(receiver.url.removesuffix("/campus-id/webhook") + "/", timeout=5)
    assert listing.status_code == 200
    assert [m["webhook_id"] for m in listing.json()] == ["msg_demo-receiver-1"]


def test_a_revoke_says_so(receiver: WebhookReceiver) -> None:
    hook = CONNECTOR_TYPES["webhook"].create("demo_webhook", {"url": receiver.url, "secret": SECRET})
    revoke = Delivery(key="msg_demo-receiver-2", kind=DeliveryKind.REVOKE, resource="library",
                      grant={"state": "ended", "since": "2026-09-01T08:00:00+00:00",
                             "until": "2026-12-01T08:00:00+00:00"},
                      person=GRANT.person)
    hook.deliver(revoke, deadline_s=10)
    [received] = receiver.received
    assert (received.type, received.state, received.until) == (
        "access.revoked", "ended", "2026-12-01T08:00:00+00:00")


def test_another_secret_is_refused_and_never_works(receiver: WebhookReceiver) -> None:
    hook = CONNECTOR_TYPES["webhook"].create("demo_webhook",
                                             {"url": receiver.url, "secret": new_secret()})
    with pytest.raises(NeverWorks, match="401"):
        hook.deliver(GRANT, deadline_s=10)
    assert receiver.received == [] and receiver.refused == 1


def test_an_unsigned_post_is_refused(receiver: WebhookReceiver) -> None:
    web = requests.Session()
    web.trust_env = False
    answer = web.post(receiver.url, json={"type": "access.granted"}, timeout=5)
    assert answer.status_code == 401
    assert receiver.received == []
