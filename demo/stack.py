"""The demo universities' directories plus a running provider, as separate processes: what
`make demo` serves, and what the interop and browser tests drive.

The provider runs exactly as in production (`idp serve`: granian, the default, unless the
configuration's `[server] engine` names gunicorn; `serve_args` adds options such as `--dev`)
from a generated configuration file. With ``access=True`` the configuration also gets the
demo's resources, policies and connectors (``demo.access``); the systems they deliver to listen
on loopback (a webhook receiver and a stand-in Moodle in this process, a real SCIM server as
the library in a process of its own) and a delivery worker (`idp worker`) runs beside the
provider.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from demo import moodle_state, people
from demo.access import (
    MOODLE_COHORTS,
    MOODLE_COURSE_ID,
    SCIM_CONNECTOR,
    DemoSystems,
    access_config,
    moodle_token_file,
    read_secret,
    scim_token_file,
    secret_file,
)
from demo.moodle_standin import MoodleStandIn
from demo.scim_server import ScimServer
from demo.slapd import SlapdServer, die_with_parent
from demo.tls import write_local_ca
from demo.toml_writer import dumps
from demo.webhook_receiver import WebhookReceiver

ORGANIZATIONS = ("tpu", "tsu", "tusur")
# A worker that cannot start (a bad configuration, no database) exits within this time.
WORKER_START_S = 2.0


class ProviderStack:
    """Directories for the three demo organizations and `idp serve` over them; with
    ``access``, also a webhook receiver, a SCIM server, a stand-in Moodle and `idp worker`
    delivering to them (port 0: a free one)."""

    def __init__(self, workdir: Path, *, port: int, ldap_ports: dict[str, int] | None = None,
                 https: bool = False, host: str = "127.0.0.1", clients: dict[str, Any] | None = None,
                 workers: int = 2, database_url: str | None = None,
                 extra_config: dict[str, Any] | None = None, access: bool = False,
                 webhook_port: int = 0, scim_port: int = 0, moodle_port: int = 0,
                 echo: Callable[[str], None] | None = None,
                 serve_args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.port = port
        self.ldap_ports = ldap_ports or {}
        self.https = https
        self.host = host
        self.clients = clients or {}
        self.workers = workers
        self.database_url = database_url or f"sqlite:///{workdir / 'idp.sqlite3'}"
        self.extra_config = extra_config or {}
        self.directories: dict[str, SlapdServer] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.access = access
        self.webhook_port = webhook_port
        self.echo = echo
        self.scim_port = scim_port
        self.moodle_port = moodle_port
        self.receiver: WebhookReceiver | None = None
        self.library: ScimServer | None = None
        self.moodle: MoodleStandIn | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.ca_file: Path | None = None
        self.config_path = workdir / "idp.toml"
        self.serve_args = serve_args

    @property
    def issuer(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.host}:{self.port}"

    @property
    def bind(self) -> str:
        """Loopback, unless the issuer names another host (a relying party on another machine
        reaches the provider there)."""
        return "127.0.0.1" if self.host in ("127.0.0.1", "localhost") else "0.0.0.0"

    def start(self) -> ProviderStack:
        """Everything, or (when a part fails to start) nothing: what started is stopped."""
        try:
            self.start_directories()
            if self.access:
                self.start_receiver()
                self.start_library()
                self.start_moodle()
            self.write_config()
            self.idp("db", "upgrade")
            self.process = self._spawn("provider.log", "serve", "--host", self.bind,
                                       "--port", str(self.port), *self.serve_args)
            self._wait_ready()
            if self.access:
                self.start_worker()
                # The SCIM server forgets its Users when it stops: a demo started again on the
                # same database gets back the Users of those who already have a library card.
                self.idp("worker", "--reconcile", SCIM_CONNECTOR)
        except BaseException:
            self.stop()
            raise
        return self

    def start_receiver(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        secret = read_secret(secret_file(self.workdir))
        self.receiver = WebhookReceiver(secret, port=self.webhook_port,
                                        log_path=self.workdir / "webhooks.jsonl",
                                        echo=self.echo).start()

    def start_library(self) -> None:
        """The demo library: a real SCIM server (``scim2-server``) with the demo's token."""
        token = read_secret(scim_token_file(self.workdir))
        self.library = ScimServer(token, port=self.scim_port,
                                  log_path=self.workdir / "scim.log").start()

    def start_moodle(self) -> None:
        """The stand-in Moodle, with the demo's cohorts and its joint-programme course."""
        token = read_secret(moodle_token_file(self.workdir))
        self.moodle = MoodleStandIn(token, cohorts=tuple(MOODLE_COHORTS.values()),
                                    courses=(MOODLE_COURSE_ID,), port=self.moodle_port)
        with self.moodle.lock:
            moodle_state.load(self.moodle_state_path, into=self.moodle.site)

    @property
    def moodle_state_path(self) -> Path:
        return self.workdir / "moodle.json"

    def start_worker(self) -> None:
        """`idp worker` as in production; it must still be running once the provider is."""
        self.worker = self._spawn("worker.log", "worker")
        try:
            self.worker.wait(WORKER_START_S)
        except subprocess.TimeoutExpired:
            return
        log = (self.workdir / "worker.log").read_text(errors="replace")
        raise RuntimeError(f"the delivery worker exited at start:\n{log[-3000:]}")

    def _spawn(self, log_name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.workdir / log_name, "wb") as log:
            return subprocess.Popen([*self.idp_command(), *args], stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent)

    def start_directories(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for org_id in ORGANIZATIONS:
            server = people.organization(org_id).server(port=self.ldap_ports.get(org_id))
            self.directories[org_id] = server.start()

    def write_config(self) -> None:
        server: dict[str, Any] = {
            "issuer": self.issuer, "dev_mode": True, "workers": self.workers,
            "secret_key_file": str(self.workdir / "secret_key"),
        }
        secret = self.workdir / "secret_key"
        if not secret.exists():
            secret.write_text(os.urandom(32).hex(), encoding="utf-8")
            secret.chmod(0o600)
        if self.https:
            # A local CA (kept across runs: a relying party told to trust it goes on trusting
            # it) and a certificate it issues for the issuer's host at every start.
            hosts = list(dict.fromkeys([self.host, "127.0.0.1", "localhost"]))
            tls = write_local_ca(self.workdir / "tls", hosts)
            server.update(tls_cert_file=str(tls.cert_file), tls_key_file=str(tls.key_file))
            self.ca_file = tls.ca_file
        config = {
            "server": server,
            "database": {"url": self.database_url},
            "organizations": {org_id: people.organization(org_id).config([srv.uri])
                              for org_id, srv in self.directories.items()},
            "clients": self.clients,
            "linking": {"rules": people.LINKING_RULES},
        }
        if self.receiver is not None and self.library is not None and self.moodle is not None:
            config.update(access_config(list(self.directories), DemoSystems(
                webhook_url=self.receiver.url, webhook_secret_file=secret_file(self.workdir),
                scim_url=self.library.base, scim_token_file=scim_token_file(self.workdir),
                moodle_url=self.moodle.url, moodle_token_file=moodle_token_file(self.workdir))))
        for section, values in self.extra_config.items():
            config[section] = {**config.get(section, {}), **values}
        self.config_path.write_text(dumps(config), encoding="utf-8")

    def idp_command(self) -> list[str]:
        return [sys.executable, "-m", "idp", "--config", str(self.config_path)]

    def idp(self, *args: str) -> str:
        done = subprocess.run([*self.idp_command(), *args], capture_output=True, text=True,
                              check=False, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"idp {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def _wait_ready(self) -> None:
        assert self.process is not None
        wait_until_answering(
            f"{self.issuer}/.well-known/openid-configuration", self.process, timeout_s=30,
            why=lambda: (self.workdir / "provider.log").read_text(errors="replace")[-3000:],
            verify=str(self.ca_file) if self.ca_file else True)

    def stop(self) -> None:
        """The worker first (SIGTERM: it finishes the job in hand), then the provider, the
        systems it delivers to and the directories."""
        _terminate(self.worker)
        self.worker = None
        _terminate(self.process)
        self.process = None
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        if self.library is not None:
            self.library.stop()
            self.library = None
        if self.moodle is not None:
            self.moodle.close()
            with self.moodle.lock:
                moodle_state.save(self.moodle.site, self.moodle_state_path)
            self.moodle = None
        for server in self.directories.values():
            server.close()
        self.directories = {}

    def __enter__(self) -> ProviderStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM a child's process group, SIGKILL it when it has not ended within 15 s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def wait_until_answering(url: str, process: subprocess.Popen[Any], *, timeout_s: float,
                         why: Callable[[], str], verify: str | bool = True) -> None:
    """Return once ``url`` answers HTTP at all; RuntimeError with ``why()`` (the server's log,
    say) if ``process`` exits first or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start:\n{why()}")
        try:
            requests.get(url, timeout=1, verify=verify)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer at {url}:\n{why()}") from None
            time.sleep(0.1)
