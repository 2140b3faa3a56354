"""A real SCIM 2.0 server for the tests: ``scim2-server`` (python-scim, in-memory storage) in a
process of its own on 127.0.0.1, with a bearer token, and a client to read back what it holds.

Started with ``--dynamic-tenants``: each test provisions under a tenant of its own
(``/<tenant>/v2``), so tests sharing one server never see each other's Users. ``stop`` and
``start`` again keep the port (the server forgets its Users, as an in-memory one does).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from demo.slapd import free_port

TOKEN = "scim-test-token-0123456789"
SCIM_JSON = "application/scim+json"


def _command() -> str:
    found = Path(sys.executable).with_name("scim2-server")
    return str(found) if found.exists() else (shutil.which("scim2-server") or "scim2-server")


class ScimServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers.update({"Authorization": f"Bearer {TOKEN}", "Accept": SCIM_JSON})

    def start(self) -> ScimServer:
        for _ in range(3):  # another process may take the port between free_port and listen
            self.process = subprocess.Popen(
                [_command(), "--hostname", "127.0.0.1", "--port", str(self.port),
                 "--bearer-token", TOKEN, "--dynamic-tenants"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._answers():
                return self
            self.stop()
            self.port = free_port()
        raise RuntimeError("scim2-server did not start")

    def _answers(self) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                if self.http.get(f"http://127.0.0.1:{self.port}/probe/v2/ServiceProviderConfig",
                                 timeout=1).status_code == 200:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    def tenant(self) -> str:
        """A fresh SCIM base URL, empty until something is provisioned there."""
        return f"http://127.0.0.1:{self.port}/t{uuid.uuid4().hex[:12]}/v2"

    def users(self, base: str) -> list[dict[str, Any]]:
        """Every User of the tenant at ``base``, as the server gives them."""
        answer = self.http.get(f"{base}/Users", params={"count": "1000"}, timeout=5)
        answer.raise_for_status()
        return list(answer.json().get("Resources", []))

    def create(self, base: str, user: dict[str, Any]) -> dict[str, Any]:
        """A User made by hand, as a librarian (or another system) would."""
        answer = self.http.post(f"{base}/Users", json=user, timeout=5,
                                headers={"Content-Type": SCIM_JSON})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())
