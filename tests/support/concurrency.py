"""Calls released together at one barrier, as two clicks or two instances arrive at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")


def together(*calls: Callable[[], T]) -> list[T]:
    """Run the calls in threads released at one barrier; their results in order. A call that
    raised fails the caller's test with what it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    done = [False] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
            done[i] = True
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert all(done), "a call did not finish within 60 s"
    return cast(list[T], results)
