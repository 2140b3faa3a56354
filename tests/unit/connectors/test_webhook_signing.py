"""Our signature checked by the Standard Webhooks project's own Python library, code we did not
write: a receiver using it accepts what we send, and refuses it once anything changes."""

from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from connectors import standard_webhooks, webhook
from connectors.base import Delivery, DeliveryKind, NeverWorks

SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
KEY = standard_webhooks.decode_secret(SECRET)
DELIVERY = Delivery(
    key="dlv_0001", kind=DeliveryKind.GRANT, resource="library",
    grant={"state": "active", "since": "2026-09-01T00:00:00+00:00", "until": None},
    person={"campus_id": "123456782", "sub": "s-1", "name": "Анна Петрова", "email": "a@tpu.ru",
            "organizations": ["tpu"], "affiliations": ["student@tpu.ru"],
            # what other connectors read, and the webhook message leaves out
            "given_name": "Анна", "family_name": "Петрова", "username": "apetrova@tpu.ru",
            "home_organization": "tpu"})


def test_the_library_verifies_our_signature_and_reads_the_body() -> None:
    body = webhook.message_body(DELIVERY)
    headers = standard_webhooks.headers(KEY, DELIVERY.key, int(time.time()), body)
    assert Webhook(SECRET).verify(body, headers) == {
        "type": "access.granted", "resource": "library",
        "grant": {"state": "active", "since": "2026-09-01T00:00:00+00:00", "until": None},
        "person": {"campus_id": "123456782", "sub": "s-1", "name": "Анна Петрова",
                   "email": "a@tpu.ru", "organizations": ["tpu"], "affiliations": ["student@tpu.ru"]},
    }
    assert headers["webhook-id"] == "dlv_0001"
    assert headers["webhook-signature"].startswith("v1,")


def test_a_changed_body_id_or_secret_fails_verification() -> None:
    body = webhook.message_body(DELIVERY)
    headers = standard_webhooks.headers(KEY, DELIVERY.key, int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"library", b"gym"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, {**headers, "webhook-id": "dlv_0002"})
    other = "whsec_" + base64.b64encode(bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


def test_a_revoke_is_access_revoked() -> None:
    revoke = Delivery(key="dlv_0002", kind=DeliveryKind.REVOKE, resource="gym",
                      grant={"state": "ended", "since": "2026-09-01", "until": "2026-10-01"},
                      person=DELIVERY.person)
    assert json.loads(webhook.message_body(revoke))["type"] == "access.revoked"


def test_the_signature_matches_a_known_vector() -> None:
    """The test vector the Standard Webhooks libraries publish and test themselves against."""
    key = standard_webhooks.decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    assert standard_webhooks.sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("key", ["", "a.b", "has space", "ключ", "x" * 256, "line\nbreak"])
def test_an_id_that_cannot_be_a_webhook_id_never_works(key: str) -> None:
    connector = webhook.create("hook", {"url": "http://127.0.0.1:9/", "secret": SECRET})
    bad = Delivery(key=key, kind=DeliveryKind.GRANT, resource="library", grant={}, person={})
    with pytest.raises(NeverWorks, match="webhook-id"):
        connector.deliver(bad, deadline_s=1)
