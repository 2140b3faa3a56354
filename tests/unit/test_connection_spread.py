"""The workers' connection spread (idp.web.connection_spread): what a worker counts as its
clients' connections, its fair share, and the responses that end a connection over it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from idp.web.connection_spread import (
    ConnectionSpread,
    SharedCounts,
    _now_ms,
    fair_share,
    held_connections,
)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def test_only_the_accepted_connections_on_the_served_port_are_counted(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    accepted = [listener.accept()[0] for _ in clients]
    with socket.create_server(("127.0.0.1", 0)) as other:  # another port's connection: not ours
        elsewhere = socket.create_connection(other.getsockname())
        elsewhere_accepted = other.accept()[0]
        try:
            assert held_connections(port) == 3  # not the clients' ends, not the listener
            accepted.pop().close()
            assert held_connections(port) == 2
        finally:
            for sock in [*clients, *accepted, elsewhere, elsewhere_accepted]:
                sock.close()


def test_without_a_list_of_files_nothing_is_counted(tmp_path: Any) -> None:
    assert held_connections(1, fds_dir=str(tmp_path / "absent")) is None


def test_the_fair_share_rounds_up() -> None:
    assert fair_share([11, 5], 2) == 8
    assert fair_share([8, 7], 2) == 8
    assert fair_share([], 2) == 0


def test_a_stopped_workers_count_ages_out_and_frees_its_slot() -> None:
    counts = SharedCounts(2)
    first, second = counts.claim(101, now_ms=1_000), counts.claim(102, now_ms=1_000)
    assert first is not None and second is not None and first != second
    counts.publish(first, 11, now_ms=1_050)
    counts.publish(second, 5, now_ms=1_050)
    assert sorted(counts.current(now_ms=1_100)) == [5, 11]
    counts.publish(first, 9, now_ms=2_500)  # the second has not counted for 1.45 s: stopped
    assert counts.current(now_ms=2_500) == [9]
    assert counts.claim(103, now_ms=2_500) == second  # its replacement takes the slot over


def served(spread: ConnectionSpread, count: int) -> list[dict[str, str]]:
    """The headers of ``count`` responses."""
    answers = []
    for _ in range(count):
        seen: dict[str, str] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None,
                           seen: dict[str, str] = seen) -> None:
            seen.update(headers)
        assert b"".join(spread({"PATH_INFO": "/"}, start_response)) == b"ok"
        answers.append(seen)
    return answers


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def spread_holding(held: int, other_worker_holds: int) -> ConnectionSpread:
    counts = SharedCounts(2)
    other = counts.claim(4242, now_ms=_now())
    assert other is not None
    spread = ConnectionSpread(app, 8080, counts, count=lambda port: held)
    assert spread.claim()  # a slot of its own (start() would also count every moment, as check() does)
    counts.publish(other, other_worker_holds, now_ms=_now())
    spread.check()
    return spread


def _now() -> int:
    return _now_ms()


def test_a_worker_over_its_share_closes_the_extra_connections_after_their_response() -> None:
    spread = spread_holding(held=11, other_worker_holds=5)  # fair share: 8
    answers = served(spread, 5)
    assert [answer.get("Connection") for answer in answers] == ["close", "close", "close", None, None]
    assert all(answer["Content-Type"] == "text/plain" for answer in answers)


def test_a_worker_within_its_share_keeps_every_connection() -> None:
    assert all("Connection" not in answer for answer in served(spread_holding(8, 8), 4))
    assert all("Connection" not in answer for answer in served(spread_holding(5, 11), 4))
