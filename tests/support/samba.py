"""A throwaway Samba Active Directory domain controller for the tests: a domain provisioned
into a temp dir with ``samba-tool``, its people and groups added offline, then ``samba``
started as a child process serving LDAP only, on a loopback address of its own.

Samba's LDAP server listens on port 389 and no setting moves it, so it takes a free loopback
address (127.x.y.z) instead of a free port, which needs the right to bind a port below 1024
(root, or ``CAP_NET_BIND_SERVICE``). :func:`unavailable_reason` says why a domain cannot be
started here, for a test to skip with.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import ldap

from demo.slapd import die_with_parent

SAMBA = shutil.which("samba") or "/usr/sbin/samba"
SAMBA_TOOL = shutil.which("samba-tool") or "/usr/bin/samba-tool"
START_TIMEOUT_S = 30.0
LDAP_PORT = 389


@dataclass(frozen=True)
class AdUser:
    username: str  # sAMAccountName
    password: str
    given_name: str
    surname: str


@dataclass(frozen=True)
class AdGroup:
    name: str  # cn and sAMAccountName
    members: Sequence[str] = ()  # sAMAccountNames of people or of other groups


def unavailable_reason() -> str | None:
    """None when a domain controller can start here, else why not."""
    if not (os.path.exists(SAMBA) and os.path.exists(SAMBA_TOOL)):
        return "Samba AD DC is not installed (scripts/install-system.sh installs it)"
    try:
        _bindable(_loopback_address())
    except PermissionError:
        return "binding LDAP's port 389 needs root or CAP_NET_BIND_SERVICE"
    return None


def _loopback_address() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def _bindable(address: str) -> bool:
    """Whether nothing listens on ``address``:389; PermissionError without the right to bind."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, LDAP_PORT))
        except PermissionError:
            raise
        except OSError:
            return False
    return True


class SambaDomain:
    """One domain (``realm``, NetBIOS ``domain``) with ``users`` (``CN=<username>``) and
    ``groups`` in ``CN=Users``; a group may be named more than once, its members added in the
    order given, and groups may be members of groups: nested membership is the point. Use as
    a context manager."""

    def __init__(self, realm: str, domain: str, users: Sequence[AdUser],
                 groups: Sequence[AdGroup]) -> None:
        self.realm = realm.upper()
        self.domain = domain.upper()
        self.base_dn = ",".join(f"DC={part}" for part in realm.lower().split("."))
        self.users = list(users)
        self.groups = list(groups)
        self.admin_password = "Adm-" + os.urandom(9).hex() + "!"
        self.workdir = Path(tempfile.mkdtemp(prefix="campus-samba-"))
        self.address = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ldap://{self.address}"

    @property
    def admin_dn(self) -> str:
        return f"CN=Administrator,CN=Users,{self.base_dn}"

    def user_dn(self, username: str) -> str:
        return f"CN={username},CN=Users,{self.base_dn}"

    def group_dn(self, name: str) -> str:
        return f"CN={name},CN=Users,{self.base_dn}"

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> SambaDomain:
        self.address = next(a for a in iter(_loopback_address, "") if _bindable(a))
        self._provision()
        for user in self.users:
            self._tool("user", "create", user.username, user.password, "--use-username-as-cn",
                       f"--given-name={user.given_name}", f"--surname={user.surname}")
        for name in dict.fromkeys(group.name for group in self.groups):
            self._tool("group", "add", name)
        for group in self.groups:
            if group.members:
                self._tool("group", "addmembers", group.name, ",".join(group.members))
        self._spawn()
        return self

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SambaDomain:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- steps ----------------------------------------------------------------------------
    @property
    def _conf(self) -> Path:
        return self.workdir / "etc" / "smb.conf"

    def _options(self) -> list[str]:
        """Everything Samba would otherwise put under /run or /var/log, in the work dir, and
        only its LDAP service, on this address."""
        run = self.workdir / "run"
        settings = {
            "interfaces": f"{self.address}/8",
            "bind interfaces only": "yes",
            "server services": "ldap",
            "ldap server require strong auth": "no",  # simple binds over plain LDAP, as in tests
            "pid directory": str(run),
            "ncalrpc dir": str(run / "ncalrpc"),
            "winbindd socket directory": str(run / "winbindd"),
            "ntp signd socket directory": str(run / "ntp_signd"),
            "log file": str(self.workdir / "samba.log"),
        }
        return [f"--option={key}={value}" for key, value in settings.items()]

    def _provision(self) -> None:
        (self.workdir / "run").mkdir()
        self._run([SAMBA_TOOL, "domain", "provision", f"--realm={self.realm}",
                   f"--domain={self.domain}", "--server-role=dc", "--dns-backend=NONE",
                   "--host-name=dc1", f"--adminpass={self.admin_password}",
                   f"--targetdir={self.workdir}", *self._options()])

    def _tool(self, *args: str) -> None:
        self._run([SAMBA_TOOL, *args, "-s", str(self._conf)])

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise RuntimeError(f"{' '.join(argv[:3])} failed: {output[-2000:]}")

    def _spawn(self) -> None:
        log = (self.workdir / "samba.stdout").open("wb")
        self._process = subprocess.Popen(
            [SAMBA, "--interactive", "--model=single", "-s", str(self._conf), "--debug-stdout",
             "--debuglevel=1", *self._options()],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Poll with the administrator's bind until Samba answers; fail with its output if it
        exits."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                output = (self.workdir / "samba.stdout").read_text(errors="replace")
                raise RuntimeError(f"samba exited at start: {output.strip()[-2000:]}")
            conn = ldap.initialize(self.uri)
            conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 1.0)
            conn.set_option(ldap.OPT_TIMEOUT, 1.0)
            try:
                conn.simple_bind_s(self.admin_dn, self.admin_password)
                return
            except ldap.LDAPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"samba did not answer on {self.uri}") from None
                time.sleep(0.1)
            finally:
                conn.unbind_s()
