"""What each answer of a receiver means for the job: delivered, retry later (with the wait it
asks for), or never works (with its status and the start of its body kept)."""

from __future__ import annotations

import pytest

from connectors.base import NeverWorks, RetryLater
from connectors.deadline_http import Answer
from connectors.webhook import judge


def answer(status: int, body: bytes = b"", **headers: str) -> Answer:
    return Answer(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(status: int) -> None:
    judge(answer(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_a_4xx_never_works_and_keeps_the_answer(status: int) -> None:
    with pytest.raises(NeverWorks) as raised:
        judge(answer(status, b'{"error":  "no such\n patron"}'))
    assert str(raised.value) == f'HTTP {status}: {{"error": "no such patron"}}'


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 301, 302, 101])
def test_the_rest_retries(status: int) -> None:
    with pytest.raises(RetryLater) as raised:
        judge(answer(status, b"busy"))
    assert str(raised.value) == f"HTTP {status}: busy"
    assert raised.value.retry_after_s is None


def test_only_the_start_of_a_long_body_is_kept() -> None:
    with pytest.raises(RetryLater) as raised:
        judge(answer(500, "ошибка ".encode() * 200))
    assert len(str(raised.value)) == len("HTTP 500: ") + 200


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(status: int) -> None:
    with pytest.raises(RetryLater) as raised:
        judge(answer(status, retry_after=" 120 "))
    assert raised.value.retry_after_s == 120
    assert str(raised.value) == f"HTTP {status}"


@pytest.mark.parametrize("value", ["Wed, 21 Oct 2026 07:28:00 GMT", "-5", "1.5", "soon", "٣"])
def test_a_retry_after_that_is_no_number_of_seconds_is_ignored(value: str) -> None:
    with pytest.raises(RetryLater) as raised:
        judge(answer(429, retry_after=value))
    assert raised.value.retry_after_s is None


def test_retry_after_counts_only_on_429_and_503() -> None:
    with pytest.raises(RetryLater) as raised:
        judge(answer(500, retry_after="60"))
    assert raised.value.retry_after_s is None
