"""What check-config says about a ``[connectors.X]`` table of type webhook: every problem at
once, each as ``key: message``, never quoting the secret."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from connectors import webhook

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def options(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"url": "https://library.example.org/hooks", "secret": SECRET}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def test_good_options_have_no_problem() -> None:
    assert webhook.problems(options()) == []
    assert webhook.problems(options(url="http://127.0.0.1:8090/in?x=1", timeout_s=120)) == []
    assert webhook.problems(options(timeout_s=0.5)) == []


def test_every_problem_is_listed_at_once() -> None:
    found = webhook.problems({"url": "ftp://x", "secret": "nope", "timeout_s": 0, "token": "t"})
    assert found == [
        "token: unknown key",
        "url: must be an http(s) URL",
        "secret: must be a Standard Webhooks secret: whsec_<base64>",
        "timeout_s: must be a number of seconds above 0 and at most 120",
    ]


def test_missing_keys_are_named() -> None:
    found = webhook.problems({})
    assert found[0] == "url: required"
    assert found[1].startswith("secret: required") and "secret_file" in found[1]


@pytest.mark.parametrize("url", ["library.example.org/hooks", "https://", "mailto:a@b", 8090,
                                 "http://host:99999/", "https://user:pw@host/hooks"])
def test_bad_urls(url: object) -> None:
    [problem] = webhook.problems(options(url=url))
    assert problem.startswith("url: must")


@pytest.mark.parametrize("secret, says", [
    ("whsec_!!!notbase64", "must be whsec_ followed by base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "must hold 24 to 64 bytes, not 5"),
    ("whsec_" + base64.b64encode(bytes(65)).decode(), "must hold 24 to 64 bytes, not 65"),
    (base64.b64encode(bytes(32)).decode(), "must be a Standard Webhooks secret: whsec_<base64>"),
])
def test_bad_secrets_are_named_but_not_quoted(secret: str, says: str) -> None:
    [problem] = webhook.problems(options(secret=secret))
    assert problem == f"secret: {says}"
    assert secret not in problem


def test_an_unpadded_secret_is_accepted() -> None:
    """Standard Webhooks libraries accept base64 without its padding, so do we."""
    unpadded = "whsec_" + base64.b64encode(bytes(range(25))).decode().rstrip("=")
    assert webhook.problems(options(secret=unpadded)) == []


@pytest.mark.parametrize("timeout", [-1, 0, 121, "10", True, float("nan")])
def test_bad_timeouts(timeout: object) -> None:
    assert webhook.problems(options(timeout_s=timeout)) == [
        "timeout_s: must be a number of seconds above 0 and at most 120"]


def test_create_refuses_what_problems_refuses() -> None:
    with pytest.raises(ValueError, match="url: must be an http"):
        webhook.create("lib", options(url="nope"))
