"""The worker's retry wait: exponential from first_retry_s, capped at max_retry_s, with full
jitter (anywhere from 0 up to the cap), and never shorter than a receiver's Retry-After."""

from __future__ import annotations

import random

from idp.provisioning.claims import Recorder
from idp.settings.model import DeliverySettings


def recorder(seed: int) -> Recorder:
    return Recorder("w", DeliverySettings(first_retry_s=10, max_retry_s=3600),
                    random.Random(seed))


def test_the_wait_grows_to_its_cap_with_full_jitter() -> None:
    waits = {attempts: [recorder(seed).backoff(attempts, None) for seed in range(200)]
             for attempts in (1, 2, 4, 12, 500)}
    for attempts, ceiling in ((1, 10), (2, 20), (4, 80), (12, 3600), (500, 3600)):
        assert all(0 <= w <= ceiling for w in waits[attempts]), attempts
        assert max(waits[attempts]) > 0.8 * ceiling  # jitter spans the whole range
        assert min(waits[attempts]) < 0.2 * ceiling


def test_a_longer_retry_after_wins() -> None:
    assert recorder(1).backoff(1, 7200.0) == 7200.0
    assert recorder(1).backoff(1, 0.0) <= 10
