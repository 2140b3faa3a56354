"""`idp serve` with two worker processes, under each engine: the client cache's change counter,
made before the workers fork, is shared by them, so a client disabled through the API (one
worker answers that) is refused at once by both, though each keeps clients in memory for a
moment (``idp.storage.snapshot_cache``); and SIGTERM stops the server cleanly."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from demo.slapd import free_port
from demo.stack import ProviderStack

ADMIN = ("automation", "automation-secret-0123456789abcdef")
CLIENTS = {ADMIN[0]: {"name": "Automation", "client_secret": ADMIN[1], "roles": ["consortium_admin"],
                      "grant_types": ["client_credentials"], "scopes": []}}
SCOPE = "timetable.read"
ROUND = 40  # token requests per round, each on a connection of its own, 8 at a time


@pytest.fixture(scope="module", params=["granian", "gunicorn"])
def provider(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderStack]:
    with ProviderStack(tmp_path_factory.mktemp(f"workers-{request.param}"), port=free_port(),
                       clients=CLIENTS, workers=2,
                       extra_config={"server": {"engine": request.param}}) as stack:
        yield stack


def token(provider: ProviderStack, client_id: str, secret: str, scope: str = SCOPE) -> requests.Response:
    http = requests.Session()  # a new connection: the kernel hands it to either worker
    http.trust_env = False
    with http:
        return http.post(f"{provider.issuer}/token", auth=(client_id, secret), timeout=30,
                         data={"grant_type": "client_credentials", **({"scope": scope} if scope else {})})


def statuses(provider: ProviderStack, client_id: str, secret: str) -> list[int]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: token(provider, client_id, secret).status_code, range(ROUND)))


def test_a_client_disabled_in_one_worker_is_refused_by_both_at_once(provider: ProviderStack) -> None:
    created = json.loads(provider.idp("clients", "create", "--name", "Timetable sync",
                                      "--grant-type", "client_credentials", "--scope", SCOPE,
                                      "--json").strip().splitlines()[-1])
    service, secret = created["client_id"], created["client_secret"]
    admin = token(provider, *ADMIN, scope="")
    assert admin.status_code == 200, admin.text
    assert set(statuses(provider, service, secret)) == {200}  # both workers now remember it

    http = requests.Session()
    http.trust_env = False
    disabled = http.patch(f"{provider.issuer}/api/v1/clients/{service}", json={"disabled": True},
                          headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
                          timeout=30)
    assert disabled.status_code == 200, disabled.text
    # No wait: the other worker's remembered copy would still say enabled for a moment.
    assert set(statuses(provider, service, secret)) == {401}


def test_sigterm_stops_the_server_and_its_workers(provider: ProviderStack) -> None:
    assert provider.process is not None
    last = "last-before-stop"
    requests.get(f"{provider.issuer}/jwks", headers={"X-Request-ID": last}, timeout=10)
    provider.process.send_signal(signal.SIGTERM)
    assert provider.process.wait(30) == 0
    log = Path(provider.workdir / "provider.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-2000:]
    # Access lines wait to be written in batches: the stop writes those still waiting.
    assert any(last in line and "/jwks" in line for line in log.splitlines()), log[-2000:]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=5)
