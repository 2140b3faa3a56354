"""`idp serve` (granian, two workers) keeps a few long-lived client connections spread evenly
over its workers (idp.web.connection_spread): however the kernel first hands out 12 kept-alive
connections, after a moment of requests each worker holds 6, counted from outside the server
(each worker's sockets on the served port, as `ss -tnp` shows them)."""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.slapd import free_port
from demo.stack import ProviderStack

CONNECTIONS = 12


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderStack]:
    with ProviderStack(tmp_path_factory.mktemp("spread"), port=free_port(), clients={}, workers=2,
                       extra_config={"server": {"engine": "granian"}}) as stack:
        yield stack


def held_by_worker(server_pid: int, port: int) -> dict[int, int]:
    """Established connections on ``port`` held by each child process of ``server_pid``."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                established.add(fields[9])  # the socket's inode
    held = {}
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    for child in map(int, children):
        inodes = set()
        for fd in os.listdir(f"/proc/{child}/fd"):
            try:
                target = os.readlink(f"/proc/{child}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        held[child] = len(inodes & established)
    return held


def test_kept_alive_connections_end_up_evenly_spread_over_the_workers(provider: ProviderStack) -> None:
    assert provider.process is not None
    port = provider.port
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)]
    closed_by_server = 0
    spread: dict[int, int] = {}
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            for connection in connections:  # each one request, as a proxy's pool or a client
                connection.request("GET", "/.well-known/openid-configuration")
                answer = connection.getresponse()
                assert answer.status == 200
                answer.read()
                if answer.getheader("Connection", "").lower() == "close":
                    closed_by_server += 1
                    connection.close()  # the next request connects again
            spread = held_by_worker(provider.process.pid, port)
            if sorted(spread.values()) == [CONNECTIONS // 2, CONNECTIONS // 2]:
                break
            time.sleep(0.02)
        assert sorted(spread.values()) == [CONNECTIONS // 2] * 2, (spread, closed_by_server)
        # Once even, nothing more is closed: every connection is still the one it was.
        before = [connection.sock for connection in connections]
        for _ in range(5):
            time.sleep(0.1)
            for connection in connections:
                connection.request("GET", "/.well-known/openid-configuration")
                answer = connection.getresponse()
                answer.read()
                assert answer.getheader("Connection") is None
        assert [connection.sock for connection in connections] == before
    finally:
        for connection in connections:
            connection.close()
