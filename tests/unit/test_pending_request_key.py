"""The key of a pending authorization request (``pending.request_key``) is the digest of the
request's parameters as ``urlencode`` writes them, sorted: cookies written before keep working."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import pytest

from idp.web.pending import request_key

CASES = [
    {},
    {"response_type": "code", "client_id": "portal", "state": "s", "nonce": "AbC-_.~9"},
    {"scope": "openid profile email", "redirect_uri": "https://rp.example.org/cb?a=1&b=2"},
    {"state": "ёлка", "nonce": "a+b/c=d%e", "prompt": "", "x y": "z&w", "max_age": "0"},
    {"login_hint": "ivanov@tpu.ru", "claims": '{"id_token":{"acr":null}}', "ui_locales": "ru en"},
    {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "tab": "\t", "nul": "\x00"},
]


@pytest.mark.parametrize("params", CASES)
def test_the_key_is_the_digest_of_the_encoded_sorted_parameters(params: dict[str, str]) -> None:
    expected = hashlib.sha256(urlencode(sorted(params.items())).encode()).hexdigest()
    assert request_key(params) == expected
