"""Several `idp serve` instances behind nginx, as docs/deployment.md runs them: one
PostgreSQL database, one Redis for the login throttle, the demo directories, and nginx (Debian's
package, started with a prefix, configuration, pid and logs of its own in the work directory,
never the system service) running deploy/nginx/campus-id.conf with its addresses, ports and
certificate paths replaced. nginx ends TLS with a certificate from a local CA made here.

Used by tests/integration/test_three_instances.py and ``python -m bench.instances``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from demo.slapd import die_with_parent, free_ports
from demo.stack import ProviderStack, _terminate
from demo.tls import write_local_ca

DEPLOY_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "campus-id.conf"
START_S = 60.0

MAIN_CONF = """\
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format upstream '$request_method $uri $status $upstream_addr $upstream_status';
    access_log {workdir}/nginx-access.log upstream;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/campus-id.conf;
}}
"""


def adapt_site_conf(text: str, *, upstreams: list[int], https_port: int, http_port: int,
                    cert: Path, key: Path, show_upstream: bool) -> str:
    """deploy/nginx/campus-id.conf with loopback ports and the local certificate. Every
    replacement must find what it replaces, so that the file and this code cannot drift apart."""
    servers = re.search(r"^(\s*)server \S+:\d+( [^;]*)?;$", text, re.MULTILINE)
    if servers is None:
        raise ValueError("no upstream server line in the nginx configuration")
    indent, options = servers.group(1), servers.group(2) or ""
    lines = "\n".join(f"{indent}server 127.0.0.1:{port}{options};" for port in upstreams)
    text = re.sub(r"(^\s*server \S+:\d+( [^;]*)?;\n)+", lines + "\n", text, count=1,
                  flags=re.MULTILINE)
    replacements: list[tuple[str, str]] = [
        (r"^\s*listen \[::\]:\d+.*\n", ""),
        (r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"ssl_certificate +\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key +\S+;", f"ssl_certificate_key {key};"),
    ]
    if show_upstream:
        replacements.append((r"# (add_header X-Upstream \$upstream_addr always;)", r"\1"))
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if count == 0:
            raise ValueError(f"the nginx configuration has nothing matching {pattern!r}")
    return text


class Cluster:
    """``instances`` `idp serve` processes of ``workers`` workers each on one database, behind
    nginx at ``public`` (https://127.0.0.1:PORT, the issuer; ``ca_file`` verifies it)."""

    def __init__(self, workdir: Path, *, database_url: str, instances: int = 3, workers: int = 1,
                 clients: dict[str, Any] | None = None, extra_config: dict[str, Any] | None = None,
                 show_upstream: bool = False) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        ports = free_ports(instances + 2)
        self.https_port, self.http_port = ports[0], ports[1]
        self.ports = ports[2:]
        self.public = f"https://127.0.0.1:{self.https_port}"
        self.show_upstream = show_upstream
        config: dict[str, Any] = dict(extra_config or {})
        config["server"] = {"issuer": self.public, "dev_mode": False,
                            "trust_forwarded_headers": True, **config.get("server", {})}
        self.stack = ProviderStack(workdir / "provider", port=self.ports[0], workers=workers,
                                   database_url=database_url, clients=clients,
                                   extra_config=config)
        self.processes: list[subprocess.Popen[bytes] | None] = []
        self.nginx: subprocess.Popen[bytes] | None = None
        tls = write_local_ca(workdir / "tls")
        self.ca_file, self._cert, self._key = tls.ca_file, tls.cert_file, tls.key_file

    def instance_address(self, index: int) -> str:
        """``127.0.0.1:PORT`` of an instance, as nginx's ``$upstream_addr`` names it."""
        return f"127.0.0.1:{self.ports[index]}"

    def idp(self, *args: str) -> str:
        """An `idp` command on the instances' configuration (output; raises on failure)."""
        return self.stack.idp(*args)

    def start(self) -> Cluster:
        from idp.storage.base import make_engine
        from idp.storage.migrate import upgrade

        try:
            self.stack.start_directories()
            self.stack.write_config()
            engine = make_engine(self.stack.database_url)  # `idp db upgrade`, in this process
            try:
                upgrade(engine)
            finally:
                engine.dispose()
            # All at once: one at a time makes the signing keys and the static clients (an
            # advisory lock at start), the others find them made.
            self.processes = [self.stack._spawn(
                "provider.log" if index == 0 else f"provider-{index}.log", "serve",
                "--host", "127.0.0.1", "--port", str(port))
                for index, port in enumerate(self.ports)]
            self.stack.process = self.processes[0]  # stopped with the directories
            for index in range(len(self.ports)):
                self._wait_instance(index)
            self.start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_instance(self, index: int) -> None:
        url = f"http://{self.instance_address(index)}/healthz"
        deadline = time.monotonic() + START_S
        http = requests.Session()
        http.trust_env = False
        while time.monotonic() < deadline:
            process = self.processes[index]
            assert process is not None
            if process.poll() is not None:
                name = "provider.log" if index == 0 else f"provider-{index}.log"
                log = (self.stack.workdir / name).read_text(errors="replace")
                raise RuntimeError(f"instance {index} exited at start:\n{log[-3000:]}")
            try:
                if http.get(url, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"instance {index} did not answer at {url}")

    def start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise RuntimeError("nginx is needed: scripts/install-system.sh installs it")
        site = adapt_site_conf(DEPLOY_CONF.read_text(encoding="utf-8"), upstreams=self.ports,
                               https_port=self.https_port, http_port=self.http_port,
                               cert=self._cert, key=self._key, show_upstream=self.show_upstream)
        (self.workdir / "campus-id.conf").write_text(site, encoding="utf-8")
        conf = self.workdir / "nginx.conf"
        conf.write_text(MAIN_CONF.format(workdir=self.workdir), encoding="utf-8")
        command = [nginx, "-p", str(self.workdir), "-c", str(conf)]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False,
                                 timeout=30)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
        self.nginx = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True,
                                      preexec_fn=die_with_parent)
        http = self.session()
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                log = (self.workdir / "nginx-error.log").read_text(errors="replace")
                raise RuntimeError(f"nginx exited at start:\n{log[-3000:]}")
            try:
                if http.get(f"{self.public}/.well-known/openid-configuration", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer at {self.public}")

    def session(self) -> requests.Session:
        """An HTTP client that trusts the local CA (and no proxy of the environment)."""
        http = requests.Session()
        http.trust_env = False
        http.verify = str(self.ca_file)
        return http

    def kill(self, index: int) -> None:
        """SIGKILL an instance and all its processes, as a crash or an OOM kill would."""
        process = self.processes[index]
        assert process is not None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful: finishes what it is sending
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait(5)
        self.nginx = None
        # SIGTERM to every instance at once (each takes a few seconds to finish), then wait.
        others = [p for p in self.processes[1:] if p is not None and p.poll() is None]
        for process in others:
            os.killpg(process.pid, signal.SIGTERM)
        self.stack.stop()  # the first instance, then the directories
        for process in others:
            _terminate(process)  # SIGKILL what has not ended within 15 s
        self.processes = []

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
