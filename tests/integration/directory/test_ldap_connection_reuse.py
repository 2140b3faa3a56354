"""Connections are kept and reused across logins: one service-bound connection searches for
many logins and is never bound again, one other connection takes the people's binds and never
searches (a person's bind never leaks into a search), and a server restart costs no login (the
dead connections are replaced on the spot)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import ldap
import pytest

from demo.people import TPU
from demo.slapd import SlapdServer
from idp.directory.base import AuthStatus
from idp.directory.ldap import LdapDirectory

pytestmark = pytest.mark.slapd

MakeDirectory = Callable[..., LdapDirectory]
OK, INVALID = AuthStatus.OK, AuthStatus.INVALID_CREDENTIALS
OTHER = next(p for p in TPU.people if p.username != "demo")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URI of every LDAP connection opened."""
    seen: list[str] = []
    original = ldap.initialize

    def spy(uri: str, *args: object, **kwargs: object) -> object:
        seen.append(uri)
        return original(uri, *args, **kwargs)

    monkeypatch.setattr(ldap, "initialize", spy)
    return seen


@pytest.fixture
def binds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The DN of every simple bind."""
    seen: list[str] = []
    original = ldap.ldapobject.SimpleLDAPObject.simple_bind_s

    def spy(self: ldap.ldapobject.SimpleLDAPObject, who: str = "", cred: str = "",
            *args: object, **kwargs: object) -> object:
        seen.append(who)
        return original(self, who, cred, *args, **kwargs)

    monkeypatch.setattr(ldap.ldapobject.SimpleLDAPObject, "simple_bind_s", spy)
    return seen


def test_consecutive_logins_share_one_connection(
        tpu_server: SlapdServer, make_directory: MakeDirectory, opened: list[str]) -> None:
    directory = make_directory(TPU, [tpu_server.uri])
    assert directory.authenticate("demo", "demo").status is OK
    assert directory.authenticate("demo", "wrong").status is INVALID
    assert directory.authenticate("nobody-here", "guess").status is INVALID
    assert directory.authenticate(OTHER.username, OTHER.password).status is OK
    assert opened == [tpu_server.uri] * 2  # one to search, one for the people's binds
    assert directory.pools[tpu_server.uri].idle == 1
    assert directory.bind_pools[tpu_server.uri].idle == 1


def test_a_persons_bind_never_happens_on_the_connection_that_searches(
        tpu_server: SlapdServer, make_directory: MakeDirectory, binds: list[str]) -> None:
    directory = make_directory(TPU, [tpu_server.uri])
    assert directory.authenticate("demo", "demo").status is OK
    searcher = directory.pools[tpu_server.uri]._idle[0][0]
    binds.clear()
    result = directory.authenticate(OTHER.username, OTHER.password)
    assert result.status is OK and result.account is not None
    assert result.account.username == OTHER.username
    # The search ran as the service account with no bind before it; the one bind was the
    # person's, on the other connection.
    assert len(binds) == 1 and binds[0] != directory.settings.bind_dn
    assert searcher.whoami_s() == "dn:" + directory.settings.bind_dn


def test_start_tls_connections_are_reused(
        tpu_server: SlapdServer, make_directory: MakeDirectory, opened: list[str]) -> None:
    directory = make_directory(TPU, [tpu_server.uri], start_tls=True, allow_insecure=False,
                               ca_file=tpu_server.ca_file)
    for _ in range(3):
        assert directory.authenticate("demo", "demo").status is OK
    assert len(opened) == 2


def test_a_restarted_server_costs_no_login(make_directory: MakeDirectory, opened: list[str]) -> None:
    with TPU.server() as server:
        directory = make_directory(TPU, [server.uri])
        assert directory.authenticate("demo", "demo").status is OK
        server.stop()
        server.start()
        assert server.uri == directory.settings.uris[0], "slapd came back on another port"
        opened.clear()  # slapd's own readiness checks
        # The kept connection is dead: replaced on the spot, the login goes through.
        assert directory.authenticate("demo", "demo").status is OK
        assert directory.authenticate("demo", "wrong").status is INVALID
        assert opened == [server.uri] * 2


def test_a_failed_server_keeps_no_connection(
        dead_uri: str, tpu_server: SlapdServer, make_directory: MakeDirectory) -> None:
    directory = make_directory(TPU, [dead_uri, tpu_server.uri])
    assert directory.authenticate("demo", "demo").status is OK
    assert directory.pools[dead_uri].idle == 0
    assert directory.pools[tpu_server.uri].idle == 1


def test_threads_logging_in_at_once_each_get_their_own_connection(
        tpu_server: SlapdServer, make_directory: MakeDirectory, opened: list[str]) -> None:
    directory = make_directory(TPU, [tpu_server.uri])
    results: list[AuthStatus] = []
    lock = threading.Lock()

    def logins(username: str, password: str) -> None:
        for _ in range(10):
            status = directory.authenticate(username, password).status
            with lock:
                results.append(status)

    threads = [threading.Thread(target=logins, args=pair) for pair in
               [("demo", "demo"), (OTHER.username, OTHER.password), ("demo", "wrong")] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(OK) == 40 and results.count(INVALID) == 20
    assert len(opened) <= 2 * len(threads)
    assert (directory.pools[tpu_server.uri].idle
            + directory.bind_pools[tpu_server.uri].idle) == len(opened)
