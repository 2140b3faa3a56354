"""A real SCIM 2.0 server, ``scim2-server`` (in-memory storage), in a process of its own on
127.0.0.1 with a bearer token: the demo's library system, and the server the scim connector's
tests run against.

The token reaches the server through its environment (``SCIM_BEARER_TOKEN``, read by this
module run as ``python -m demo.scim_server``), never its command line, which every local user
can read. With ``dynamic_tenants`` each first request to ``/<tenant>`` makes a tenant of its
own (tests), otherwise the Users live under ``/v2`` (the demo). ``stop`` and ``start`` again
keep the port; the server forgets its Users, as an in-memory one does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from demo.slapd import die_with_parent, free_port

SCIM_JSON = "application/scim+json"
TOKEN_VARIABLE = "SCIM_BEARER_TOKEN"


class ScimServer:
    def __init__(self, token: str, *, port: int = 0, dynamic_tenants: bool = False,
                 log_path: Path | None = None) -> None:
        self.fixed_port = port != 0
        self.port = port or free_port()
        self.dynamic_tenants = dynamic_tenants
        self.log_path = log_path
        self._token = token
        self.process: subprocess.Popen[bytes] | None = None
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": SCIM_JSON})

    @property
    def base(self) -> str:
        """The SCIM base URL without tenants (``/Users`` is under it)."""
        return f"http://127.0.0.1:{self.port}/v2"

    def start(self) -> ScimServer:
        # Another process may take a free port between free_port and listen: try another one.
        for _ in range(1 if self.fixed_port else 3):
            self.process = self._spawn()
            if self._answers():
                return self
            self.stop()
            self.port = free_port()
        raise RuntimeError(f"scim2-server did not start on 127.0.0.1:{self.port}"
                           + (f": {self._log_tail()}" if self.log_path else ""))

    def _spawn(self) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "demo.scim_server", "--hostname", "127.0.0.1",
                "--port", str(self.port)]
        if self.dynamic_tenants:
            args.append("--dynamic-tenants")
        env = {**os.environ, TOKEN_VARIABLE: self._token}
        log = open(self.log_path, "ab") if self.log_path else None
        try:
            return subprocess.Popen(args, env=env, stdout=log or subprocess.DEVNULL,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent)
        finally:
            if log is not None:
                log.close()

    def _answers(self) -> bool:
        probe = ("/probe" if self.dynamic_tenants else "") + "/v2/ServiceProviderConfig"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                if self.http.get(f"http://127.0.0.1:{self.port}{probe}",
                                 timeout=1).status_code == 200:
                    return True
            except requests.RequestException:  # not listening yet, or too busy to answer
                pass
            time.sleep(0.05)
        return False

    def _log_tail(self) -> str:
        """The end of the server's log, so a failure says why where it is reported."""
        assert self.log_path is not None
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            return f"no log at {self.log_path}: {exc.strerror}"
        return " | ".join(lines[-5:]) or f"{self.log_path} is empty"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    def users(self, base: str | None = None, where: str | None = None) -> list[dict[str, Any]]:
        """Every User at ``base`` (default: the server's own), or those the SCIM filter ``where`` matches."""
        params = {"count": "1000", **({"filter": where} if where else {})}
        answer = self.http.get(f"{base or self.base}/Users", params=params, timeout=5)
        answer.raise_for_status()
        return list(answer.json().get("Resources", []))


def _serve() -> None:
    """``scim2-server`` with the bearer token of the environment added to its arguments."""
    from scim2_server.testserver.cli import main

    token = os.environ.pop(TOKEN_VARIABLE, "")
    if not token:
        sys.exit(f"{TOKEN_VARIABLE} is not set: the server would accept every request")
    sys.argv = ["scim2-server", *sys.argv[1:], "--bearer-token", token]
    main()


if __name__ == "__main__":
    _serve()
