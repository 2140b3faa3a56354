"""Throwaway OpenLDAP servers for the tests and ``make demo``: one slapd child process per
directory, configured in a temp dir, loaded offline with slapadd, stopped with SIGINT.

A slapd never outlives the Python process that started it (``PR_SET_PDEATHSIG``), so start it
from the main thread. Passwords are stored only as ``{SSHA}`` hashes made by :func:`ssha`.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import ldap
import ldap.dn
import ldif

from demo.tls import write_self_signed

SLAPD = os.environ.get("SLAPD", "/usr/sbin/slapd")
SLAPADD = os.environ.get("SLAPADD", "/usr/sbin/slapadd")
SYSTEM_SCHEMA_DIR = Path("/etc/ldap/schema")
SYSTEM_SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
MODULE_DIR = "/usr/lib/ldap"
START_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1

Value = str | bytes
Entry = tuple[str, Mapping[str, Value | Sequence[Value]]]


def ssha(password: str, salt: bytes | None = None) -> str:
    """An RFC 2307 ``{SSHA}`` userPassword value: what slapd checks a simple bind against."""
    salt = salt if salt is not None else secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


# Ports are chosen below the kernel's ephemeral range (where every outgoing connection takes its
# local port, so a port chosen there can be taken by a client between the choice and the bind),
# each test worker in a slice of its own (so two workers never hand out the same port).
PORTS_LOW, PORTS_HIGH = 20000, 32000
PORTS_PER_WORKER = 1000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _port_slice() -> range:
    """The ports this process chooses from: a pytest-xdist worker's own slice (``gw3`` →
    the fourth), or the whole span for anyone else, at a place chosen by the process id."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    slices = (PORTS_HIGH - PORTS_LOW) // PORTS_PER_WORKER
    if worker.startswith("gw") and worker[2:].isdigit():
        low = PORTS_LOW + (int(worker[2:]) % slices) * PORTS_PER_WORKER
        return range(low, low + PORTS_PER_WORKER)
    return range(PORTS_LOW, PORTS_HIGH)


_next_port: dict[int, int] = {}  # the next candidate, by process id (a fork starts afresh)


def _candidates() -> Iterable[int]:
    ports = _port_slice()
    if _ephemeral_low() < PORTS_HIGH:  # an unusual range: the kernel's choice is as good
        while True:
            yield 0
    pid = os.getpid()
    while True:
        at = _next_port.get(pid, pid * 7919)
        _next_port[pid] = at + 1
        yield ports[at % len(ports)]


def _bind_free(sock: socket.socket) -> int:
    for port in _candidates():
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return int(sock.getsockname()[1])
    raise AssertionError("unreachable")  # _candidates never ends


def free_port() -> int:
    """A port nobody listens on right now (see ``PORTS_LOW``)."""
    with socket.socket() as sock:
        return _bind_free(sock)


def free_ports(count: int) -> list[int]:
    """``count`` different free ports: each is held until all are chosen."""
    socks = [socket.socket() for _ in range(count)]
    try:
        return [_bind_free(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class PortTaken(RuntimeError):
    """slapd could not listen on the port it was given."""


def die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM the slapd when the thread that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class SlapdServer:
    """One slapd serving ``suffix`` with ``entries`` (plus the suffix entry and a service account
    ``cn=idp,<suffix>`` that may read everything, when not given).

    Use as a context manager, or call :meth:`start` and :meth:`close`. :meth:`stop` and
    :meth:`start` again keep the data and the ports, for failover tests.
    """

    def __init__(
        self,
        suffix: str,
        entries: Iterable[Entry] = (),
        *,
        schema_files: Iterable[str | Path] = (),
        tls: bool = False,
        port: int | None = None,
        tls_port: int | None = None,
        service_password: str = "idp-service-secret",
        anonymous_search: bool = False,
        workdir: str | Path | None = None,
        modules: Iterable[str] = (),
    ) -> None:
        self.suffix = suffix
        self.entries = list(entries)
        self.schema_files = [Path(p).resolve() for p in schema_files]
        self.tls = tls
        self.port = port or free_port()
        self.tls_port = (tls_port or free_port()) if tls else None
        self.service_dn = f"cn=idp,{suffix}"
        self.service_password = service_password
        self.admin_dn = f"cn=admin,{suffix}"
        self.admin_password = secrets.token_urlsafe(16)
        self.anonymous_search = anonymous_search
        self.modules = list(modules)  # more slapd modules to load, e.g. "argon2" for {ARGON2}
        self._fixed_ports = port is not None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="campus-slapd-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._loaded = False

    # -- addresses ------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        if self.tls_port is None:
            raise RuntimeError("this server was started without tls=True")
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> str:
        """The self-signed certificate, which is its own CA: give it as ``ca_file``."""
        if not self.tls:
            raise RuntimeError("this server was started without tls=True")
        return str(self.workdir / "cert.pem")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> SlapdServer:
        if self.running:
            return self
        if not self._loaded:
            self._configure()
            self._load()
        for attempt in range(3):
            try:
                self._spawn()
                return self
            except PortTaken:
                if self._fixed_ports or attempt == 2:
                    raise
                self.port = free_port()  # another process took it between the pick and the bind
                self.tls_port = free_port() if self.tls else None
        return self

    def _spawn(self) -> None:
        stderr = (self.workdir / "slapd.stderr").open("wb")
        urls = [self.uri + "/"] + ([self.ldaps_uri + "/"] if self.tls else [])
        self._process = subprocess.Popen(
            [SLAPD, "-d", "none", "-f", str(self.workdir / "slapd.conf"), "-h", " ".join(urls)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        stderr.close()
        self._wait_ready()

    def stop(self) -> None:
        """Stop the process but keep the data: :meth:`start` brings the same server back."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SlapdServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def admin_connection(self) -> ldap.ldapobject.LDAPObject:
        """A connection bound as the rootdn, for tests that change entries."""
        conn = ldap.initialize(self.uri)
        _set_timeouts(conn, 5.0)
        conn.simple_bind_s(self.admin_dn, self.admin_password)
        return conn

    # -- set-up ---------------------------------------------------------------------------
    def _configure(self) -> None:
        (self.workdir / "db").mkdir(parents=True, exist_ok=True)
        schemas = [SYSTEM_SCHEMA_DIR / f"{name}.schema" for name in SYSTEM_SCHEMAS]
        lines = [f"include {path}" for path in [*schemas, *self.schema_files]]
        lines += [
            f"pidfile {self.workdir / 'slapd.pid'}",
            f"argsfile {self.workdir / 'slapd.args'}",
            f"modulepath {MODULE_DIR}",
            "moduleload back_mdb",
            *(f"moduleload {name}" for name in self.modules),
        ]
        if self.tls:
            cert, key = write_self_signed(self.workdir, "cert")
            lines += [f"TLSCertificateFile {cert}", f"TLSCertificateKeyFile {key}"]
        lines += [
            "database mdb",
            f"suffix {_quote(self.suffix)}",
            f"rootdn {_quote(self.admin_dn)}",
            f"rootpw {ssha(self.admin_password)}",
            f"directory {self.workdir / 'db'}",
            "maxsize 33554432",
            "index objectClass eq",
            *self._acl(),
        ]
        (self.workdir / "slapd.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _acl(self) -> list[str]:
        """People and the service account may bind; only the service account reads entries;
        nobody reads password hashes."""
        service = f"dn.exact={_quote(self.service_dn)}"
        reader = "by * read" if self.anonymous_search else "by self read"
        return [
            'access to dn.base="" by * read',
            'access to dn.base="cn=Subschema" by * read',
            "access to attrs=userPassword by * auth",
            f"access to * by {service} read {reader} by * none",
        ]

    def _load(self) -> None:
        ldif_path = self.workdir / "data.ldif"
        with ldif_path.open("w", encoding="utf-8") as out:
            writer = ldif.LDIFWriter(out)
            for dn, attrs in self._all_entries():
                writer.unparse(dn, attrs)
        result = subprocess.run(
            [SLAPADD, "-q", "-f", str(self.workdir / "slapd.conf"), "-b", self.suffix,
             "-l", str(ldif_path)],
            capture_output=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"slapadd failed: {result.stderr.decode(errors='replace')}")
        self._loaded = True

    def _all_entries(self) -> Iterable[tuple[str, dict[str, list[bytes]]]]:
        given = {_norm(dn) for dn, _ in self.entries}
        if _norm(self.suffix) not in given:
            rdn_value = ldap.dn.str2dn(self.suffix)[0][0][1]
            yield self.suffix, _encode({"objectClass": ["top", "dcObject", "organization"],
                                        "dc": rdn_value, "o": rdn_value})
        if _norm(self.service_dn) not in given:
            yield self.service_dn, _encode({
                "objectClass": ["top", "organizationalRole", "simpleSecurityObject"],
                "cn": "idp", "description": "Campus ID service account",
                "userPassword": ssha(self.service_password),
            })
        for dn, attrs in self.entries:
            yield dn, _encode(attrs)

    def _wait_ready(self) -> None:
        """Poll with an anonymous bind until slapd answers; fail with its stderr if it exits."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                self._process = None
                log = (self.workdir / "slapd.stderr").read_text(errors="replace")
                if "Address already in use" in log:
                    raise PortTaken(log.strip())
                raise RuntimeError(f"slapd exited at start on port {self.port}: {log.strip()}")
            conn = ldap.initialize(self.uri)
            _set_timeouts(conn, 0.5)
            try:
                conn.simple_bind_s("", "")
                return
            except ldap.LDAPError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"slapd did not answer on {self.uri}") from None
                time.sleep(0.02)
            finally:
                conn.unbind_s()


def _set_timeouts(conn: ldap.ldapobject.LDAPObject, seconds: float) -> None:
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, seconds)
    conn.set_option(ldap.OPT_TIMEOUT, seconds)


def _encode(attrs: Mapping[str, Value | Sequence[Value]]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for name, values in attrs.items():
        items = [values] if isinstance(values, str | bytes) else list(values)
        if name.lower() == "userpassword" and any(not _hashed(v) for v in items):
            raise ValueError("userPassword must be a hash such as ssha(password), never plain")
        out[name] = [v.encode() if isinstance(v, str) else v for v in items]
    return out


def _hashed(value: Value) -> bool:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value).startswith("{")


def _norm(dn: str) -> str:
    return str(ldap.dn.dn2str(ldap.dn.str2dn(dn))).lower()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
