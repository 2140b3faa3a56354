"""Real slapd servers with the demo organizations (started once per session, about 0.05 s
each), and addresses where no directory answers: a closed port and a listener that accepts
connections but never replies."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from demo.people import TPU, TSU, TUSUR, DemoOrganization
from demo.slapd import SlapdServer, free_port
from idp.directory.ldap import LdapDirectory
from idp.settings import DirectorySettings, DirectoryType


def settings_for(org: DemoOrganization, uris: Sequence[str], **changes: Any) -> DirectorySettings:
    """The directory settings the demo suggests for ``org``, with ``changes`` applied."""
    table = org.config(uris)["directory"]
    settings = DirectorySettings(
        type=DirectoryType(table["type"]),
        uris=tuple(table["uris"]),
        base_dn=table["base_dn"],
        bind_dn=table["bind_dn"],
        bind_password=table["bind_password"],
        user_filter=table.get("user_filter", ""),
        allow_insecure=table["allow_insecure"],
        timeout_s=2.0,
        attributes=table["attributes"],
        affiliation_map=table.get("affiliation_map", {}),
    )
    return dataclasses.replace(settings, **changes)


def directory_for(org: DemoOrganization, uris: Sequence[str], **changes: Any) -> LdapDirectory:
    return LdapDirectory(org.id, settings_for(org, uris, **changes))


@pytest.fixture
def make_directory() -> Iterator[Callable[..., LdapDirectory]]:
    """``make_directory(org, uris, **changes)``: an LdapDirectory with the demo's settings,
    closed after the test (no probe of a failed server outlives it)."""
    made: list[LdapDirectory] = []

    def make(org: DemoOrganization, uris: list[str], **changes: Any) -> LdapDirectory:
        made.append(directory_for(org, uris, **changes))
        return made[-1]

    yield make
    for directory in made:
        directory.close()


@pytest.fixture(scope="session")
def tpu_server() -> Iterator[SlapdServer]:
    with TPU.server(tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def tsu_server() -> Iterator[SlapdServer]:
    with TSU.server(tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def tusur_server() -> Iterator[SlapdServer]:
    with TUSUR.server() as server:
        yield server


@pytest.fixture
def dead_uri() -> str:
    """Nothing listens here: connections are refused at once."""
    return f"ldap://127.0.0.1:{free_port()}"


@pytest.fixture
def hanging_uri() -> Iterator[str]:
    """A listener whose connections the kernel accepts (into the backlog) and nobody answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def silent_after_start_tls_uri() -> Iterator[str]:
    """A listener that accepts StartTLS (a bare success ExtendedResponse) and then never says
    another word, so the TLS handshake waits for a ServerHello that never comes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted: list[socket.socket] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            accepted.append(conn)
            request = conn.recv(1024)  # 30 LL 02 01 <message id> 77 ... (StartTLS request)
            message_id = request[4]
            conn.sendall(bytes([0x30, 0x0C, 0x02, 0x01, message_id, 0x78, 0x07,
                                0x0A, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]))
        except OSError:
            return  # the listener was closed at teardown

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
