"""A provider served as in production (`idp serve` over https with its own certificate) with
the demo directories, for client libraries we did not write."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.slapd import free_port
from demo.stack import ProviderStack

INTEROP_DIR = Path(__file__).parent
REDIRECT_URI = "http://127.0.0.1:9/cb"  # never fetched: the test hands the URL to the client
CODE_AND_REFRESH = ["authorization_code", "refresh_token"]
CLIENTS: dict[str, dict[str, Any]] = {
    "interop-rs256": {"name": "Interop RS256", "redirect_uris": [REDIRECT_URI],
                      "client_secret": "interop-rs256-secret-0123456789",
                      "id_token_signed_response_alg": "RS256", "grant_types": CODE_AND_REFRESH},
    "interop-es256": {"name": "Interop ES256", "redirect_uris": [REDIRECT_URI],
                      "client_secret": "interop-es256-secret-0123456789",
                      "id_token_signed_response_alg": "ES256", "grant_types": CODE_AND_REFRESH,
                      "access_token_format": "jwt"},
    "interop-eddsa": {"name": "Interop EdDSA", "redirect_uris": [REDIRECT_URI],
                      "client_secret": "interop-eddsa-secret-0123456789",
                      "id_token_signed_response_alg": "EdDSA", "grant_types": CODE_AND_REFRESH,
                      "access_token_format": "jwt"},
}
SERVICE_AUDIENCE = "https://api.interop.test"
SERVICES: dict[str, dict[str, Any]] = {
    "interop-service": {"name": "Interop service", "grant_types": ["client_credentials"],
                        "client_secret": "interop-service-secret-0123456789",
                        "scopes": ["timetable.read", "timetable.write"],
                        "access_token_format": "jwt", "id_token_signed_response_alg": "ES256",
                        "access_token_audience": SERVICE_AUDIENCE},
}


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderStack]:
    if shutil.which("node") is None or not (INTEROP_DIR / "node_modules" / "openid-client").is_dir():
        pytest.fail("Node.js and tests/interop/node_modules are needed: run `make test`")
    stack = ProviderStack(tmp_path_factory.mktemp("interop"), port=free_port(), https=True,
                          clients={**CLIENTS, **SERVICES}, workers=2)
    with stack:
        yield stack
