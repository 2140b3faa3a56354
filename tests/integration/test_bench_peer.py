"""The benchmark's peer (bench/peer/: node-oidc-provider) answers the requests the side-by-side
table measures it on, so a broken peer set-up shows here instead of as a row of errors.

`make test` installs bench/peer/node_modules; without it these tests are skipped.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from bench import peer
from bench.peer import PeerServer, Request

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not peer.installed(),
    reason="Node.js and bench/peer/node_modules are needed: `make test` installs them")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeerServer]:
    log = Path(tmp_path_factory.mktemp("peer")) / "peer.log"
    with PeerServer(log) as running:
        yield running


def test_client_credentials_gives_an_es256_jwt_for_the_bench_resource(server: PeerServer) -> None:
    meta = server.metadata()
    keys = KeySet.import_key_set(peer.send(server.issuer, Request("GET", "/jwks")).json())
    answer = peer.send(server.issuer, peer.client_credentials("/token", peer.ES256_CLIENT))

    assert answer.status_code == 200, answer.text
    token = jwt.decode(answer.json()["access_token"], keys, algorithms=["ES256"])
    assert token.header["alg"] == "ES256"
    assert token.claims["client_id"] == peer.ES256_CLIENT
    assert token.claims["scope"] == peer.SERVICE_SCOPE
    assert token.claims["iss"] == meta["issuer"] == server.issuer


def test_introspection_answers_active_for_an_opaque_token_and_not_for_a_made_up_one(
        server: PeerServer) -> None:
    introspection_path = "/token/introspection"
    assert server.metadata()["introspection_endpoint"] == server.issuer + introspection_path
    issued = peer.send(server.issuer, peer.client_credentials("/token", peer.OPAQUE_CLIENT))
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    assert token.count(".") == 0  # opaque, not a JWT

    answer = peer.send(server.issuer, peer.introspection(introspection_path, peer.OPAQUE_CLIENT, token))
    unknown = peer.send(server.issuer, peer.introspection(introspection_path, peer.OPAQUE_CLIENT,
                                                          "made-up-" + token))

    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is True
    assert answer.json()["client_id"] == peer.OPAQUE_CLIENT
    assert unknown.json() == {"active": False}


def test_a_wrong_client_secret_is_refused(server: PeerServer) -> None:
    request = peer.client_credentials("/token", peer.ES256_CLIENT)
    pair = base64.b64encode(f"{peer.ES256_CLIENT}:{peer.secret_of(peer.OPAQUE_CLIENT)}".encode())
    wrong = Request(request.method, request.path, {"authorization": "Basic " + pair.decode()},
                    request.form)

    answer = peer.send(server.issuer, wrong)

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_the_login_driver_completes_whole_logins(server: PeerServer) -> None:
    result = peer.run_logins(peer.login_spec(server.issuer, concurrency=2, seconds=1,
                                             users=["student01", "student02"]))

    assert result["errors"] == 0, result["first_error"]
    assert result["requests"] >= 1
