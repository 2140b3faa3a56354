"""When a directory server is down, silent or misconfigured: failover in order, timeouts that
hold even inside TLS handshakes, certificate checks, and the operator's mistakes reported as
DirectoryUnavailable rather than as a person's wrong password."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from demo.people import TPU
from demo.slapd import SlapdServer
from idp.directory.base import AuthStatus
from idp.directory.ldap import LdapDirectory
from idp.errors import DirectoryUnavailable
from tests.support.hanging import hanging_proxy

pytestmark = pytest.mark.slapd

MakeDirectory = Callable[..., LdapDirectory]
OK, INVALID = AuthStatus.OK, AuthStatus.INVALID_CREDENTIALS
# A regression here would hang inside libldap, where pytest-timeout's signal cannot reach:
# the thread method ends the whole run instead of hanging it.
HANG_GUARD = pytest.mark.timeout(20, method="thread")


def test_the_next_uri_is_tried_when_the_first_is_down(
    dead_uri: str, tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TPU, [dead_uri, tpu_server.uri])
    assert directory.authenticate("demo", "demo").status is OK


def test_no_uri_answering_raises_directory_unavailable_naming_them(make_directory: MakeDirectory) -> None:
    uris = [f"ldap://127.0.0.1:{port}" for port in (1, 2)]
    with pytest.raises(DirectoryUnavailable) as caught:
        make_directory(TPU, uris).authenticate("demo", "demo")
    assert all(uri in caught.value.detail for uri in uris)


@HANG_GUARD
def test_a_server_that_never_answers_times_out(hanging_uri: str, make_directory: MakeDirectory) -> None:
    with pytest.raises(DirectoryUnavailable) as caught:
        make_directory(TPU, [hanging_uri], timeout_s=0.5).authenticate("demo", "demo")
    assert hanging_uri in caught.value.detail


@HANG_GUARD
def test_after_a_silent_server_the_next_one_answers(
    hanging_uri: str, tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TPU, [hanging_uri, tpu_server.uri], timeout_s=0.5)
    assert directory.authenticate("demo", "demo").status is OK


def test_a_server_stopped_and_started_again_is_used_again(make_directory: MakeDirectory) -> None:
    with TPU.server() as server:
        directory = make_directory(TPU, [server.uri])
        server.stop()
        with pytest.raises(DirectoryUnavailable):
            directory.authenticate("demo", "demo")
        server.start()
        assert directory.authenticate("demo", "demo").status is OK


def test_start_tls_with_a_ca_file(tpu_server: SlapdServer, make_directory: MakeDirectory) -> None:
    directory = make_directory(TPU, [tpu_server.uri], start_tls=True, allow_insecure=False,
                               ca_file=tpu_server.ca_file)
    assert directory.authenticate("demo", "demo").status is OK


def test_ldaps_with_a_ca_file(tpu_server: SlapdServer, make_directory: MakeDirectory) -> None:
    directory = make_directory(TPU, [tpu_server.ldaps_uri], allow_insecure=False,
                               ca_file=tpu_server.ca_file)
    assert directory.authenticate("demo", "demo").status is OK


@pytest.mark.parametrize("start_tls", [True, False])
def test_a_certificate_from_another_ca_is_refused(
    tpu_server: SlapdServer, tsu_server: SlapdServer, make_directory: MakeDirectory, start_tls: bool
) -> None:
    uri = tpu_server.uri if start_tls else tpu_server.ldaps_uri
    directory = make_directory(TPU, [uri], start_tls=start_tls, ca_file=tsu_server.ca_file)
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("demo", "demo")


def test_a_refused_service_account_is_the_operators_problem(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TPU, [tpu_server.uri], bind_password="not-the-password")
    with pytest.raises(DirectoryUnavailable) as caught:
        directory.authenticate("demo", "demo")
    assert TPU.service_dn in caught.value.detail
    assert "not-the-password" not in caught.value.detail


def test_a_base_dn_the_service_account_cannot_see_is_the_operators_problem(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TPU, [tpu_server.uri], base_dn="ou=nowhere,dc=tpu,dc=ru")
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("demo", "demo")


@HANG_GUARD
def test_start_tls_with_a_server_that_never_answers_times_out(
    hanging_uri: str, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TPU, [hanging_uri], start_tls=True, timeout_s=0.5)
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("demo", "demo")


@HANG_GUARD
def test_ldaps_with_a_server_that_never_answers_times_out(
    hanging_uri: str, make_directory: MakeDirectory
) -> None:
    ldaps_uri = hanging_uri.replace("ldap://", "ldaps://")
    with pytest.raises(DirectoryUnavailable):
        make_directory(TPU, [ldaps_uri], timeout_s=0.5).authenticate("demo", "demo")


@HANG_GUARD
def test_a_tls_handshake_that_never_answers_after_start_tls_times_out(
    silent_after_start_tls_uri: str, make_directory: MakeDirectory
) -> None:
    directory = make_directory(TPU, [silent_after_start_tls_uri], start_tls=True, timeout_s=0.5)
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("demo", "demo")


@HANG_GUARD
def test_a_hung_replica_costs_one_timeout_then_is_skipped_until_a_probe_brings_it_back(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    """A first URI that accepts connections and never answers, the real server second: the
    first login waits for it once; the next go straight to the second (they each waited the
    whole timeout before); when it answers again, a background probe puts it back first."""
    timeout_s = 1.5
    address = urlsplit(tpu_server.uri)
    with hanging_proxy((address.hostname or "", address.port or 389)) as replica:
        hung = f"ldap://127.0.0.1:{replica.port}"
        directory = make_directory(TPU, [hung, tpu_server.uri], timeout_s=timeout_s)
        assert directory.authenticate("demo", "demo").status is OK  # pays the timeout once
        for _ in range(5):
            started = time.monotonic()
            assert directory.authenticate("demo", "demo").status is OK
            assert time.monotonic() - started < timeout_s / 3
        assert replica.forwarded_bytes == 0

        replica.answer()
        assert directory.breakers[hung].wait_closed(10)
        assert directory.authenticate("demo", "demo").status is OK
        assert replica.forwarded_bytes > 0  # the first URI serves logins again


@HANG_GUARD
def test_when_every_server_hangs_logins_are_refused_at_once_until_one_answers(
    tpu_server: SlapdServer, make_directory: MakeDirectory
) -> None:
    timeout_s = 1.5
    address = urlsplit(tpu_server.uri)
    with hanging_proxy((address.hostname or "", address.port or 389)) as server:
        directory = make_directory(TPU, [f"ldap://127.0.0.1:{server.port}"], timeout_s=timeout_s)
        with pytest.raises(DirectoryUnavailable):
            directory.authenticate("demo", "demo")
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            directory.authenticate("demo", "demo")
        assert time.monotonic() - started < timeout_s / 3
        server.answer()
        assert directory.breakers[f"ldap://127.0.0.1:{server.port}"].wait_closed(10)
        assert directory.authenticate("demo", "demo").status is OK
