"""The benchmark's peer: node-oidc-provider (bench/peer/, its version pinned in package.json),
started pinned to a CPU as Campus ID is in ``bench.side_by_side``, and the requests that
measure it. Its clients and secrets are the Campus ID benchmark's (bench/peer/server.mjs).

``make bench`` installs it (``npm ci`` in bench/peer); ``make test`` too, for
tests/integration/test_bench_peer.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from demo.slapd import die_with_parent, free_port

PEER_DIR = Path(__file__).parent / "peer"
LIBRARY = "oidc-provider"
SERVICE_SCOPE = "bench.read"
REDIRECT_URI = "http://127.0.0.1:9/cb"
ES256_CLIENT = "bench-cc-es256"
OPAQUE_CLIENT = "bench-cc-opaque"
LOGIN_CLIENT = "bench-web"
START_S = 30.0


def secret_of(client_id: str) -> str:
    return f"{client_id}-secret-0123456789abcdef"


def installed() -> bool:
    return (PEER_DIR / "node_modules" / LIBRARY / "package.json").is_file()


def version() -> str:
    """The installed library's version (package.json pins it; this reads what npm put there)."""
    meta: dict[str, Any] = json.loads((PEER_DIR / "node_modules" / LIBRARY / "package.json").read_text())
    return str(meta["version"])


def pinned(cpu: int | None, command: list[str]) -> list[str]:
    """``command`` bound to one CPU with taskset; unbound when ``cpu`` is None."""
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


@dataclass(frozen=True)
class Request:
    """One fixed request, as wrk sends it over and over (``bench.wrk.fixed_request_script``)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None


def basic(client_id: str) -> dict[str, str]:
    import base64

    pair = f"{client_id}:{secret_of(client_id)}".encode()
    return {"authorization": "Basic " + base64.b64encode(pair).decode()}


def client_credentials(token_path: str, client_id: str) -> Request:
    return Request("POST", token_path, basic(client_id),
                   {"grant_type": "client_credentials", "scope": SERVICE_SCOPE})


def introspection(introspection_path: str, client_id: str, token: str) -> Request:
    """The client introspects its own token: what both providers allow a confidential client."""
    return Request("POST", introspection_path, basic(client_id), {"token": token})


def send(base: str, request: Request) -> requests.Response:
    web = requests.Session()
    web.trust_env = False
    return web.request(request.method, base + request.path, headers=request.headers,
                       data=request.form, timeout=10)


def login_spec(base: str, concurrency: int, seconds: float, users: list[str]) -> dict[str, Any]:
    """What bench/peer/login.mjs takes: whole logins through the development login."""
    return {"base": base, "concurrency": concurrency, "seconds": seconds, "users": users,
            "client_id": LOGIN_CLIENT, "client_secret": secret_of(LOGIN_CLIENT),
            "redirect_uri": REDIRECT_URI}


def run_logins(spec: dict[str, Any], cpu: int | None = None) -> dict[str, Any]:
    """One login measurement by bench/peer/login.mjs, a process of its own (on ``cpu``)."""
    done = subprocess.run(pinned(cpu, ["node", str(PEER_DIR / "login.mjs"), json.dumps(spec)]),
                          capture_output=True, text=True, check=False, timeout=spec["seconds"] + 120)
    if done.returncode != 0:
        raise RuntimeError(f"peer login generator failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class PeerServer:
    """``node bench/peer/server.mjs PORT`` on loopback, bound to ``cpu`` (None: any)."""

    def __init__(self, log_path: Path, *, cpu: int | None = None, port: int = 0) -> None:
        self.log_path = log_path
        self.cpu = cpu
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PeerServer:
        if not installed():
            raise RuntimeError(f"{PEER_DIR / 'node_modules'} is missing: run `make bench` "
                               "(or `cd bench/peer && npm ci`)")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                pinned(self.cpu, ["node", "server.mjs", str(self.port)]), cwd=PEER_DIR,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        url = f"{self.issuer}/.well-known/openid-configuration"
        web = requests.Session()
        web.trust_env = False
        deadline = time.monotonic() + START_S
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the peer exited at start:\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            try:
                if web.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the peer did not answer at {url}")

    def metadata(self) -> dict[str, Any]:
        response = send(self.issuer, Request("GET", "/.well-known/openid-configuration"))
        response.raise_for_status()
        meta: dict[str, Any] = response.json()
        return meta

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def __enter__(self) -> PeerServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
