"""Readiness without Flask: required parts decide, a hung check is never run twice at once,
and one answer is reused for cache_s."""

from __future__ import annotations

import threading

from idp.health.checks import NotReady
from idp.health.readiness import Readiness


def down() -> str:
    raise NotReady("down for the test")


def test_only_required_parts_decide() -> None:
    readiness = Readiness({"database": lambda: "answers", "directory:tpu": down},
                          frozenset({"database"}), timeout_s=5, cache_s=0)
    report = readiness.report()
    assert report.ready
    assert report.as_json()["checks"]["directory:tpu"] == {
        **report.as_json()["checks"]["directory:tpu"],
        "ok": False, "detail": "down for the test", "required": False}
    assert not Readiness({"directory:tpu": down}, frozenset({"directory:tpu"}),
                         timeout_s=5, cache_s=0).report().ready


def test_an_answer_is_reused_for_cache_s() -> None:
    calls: list[int] = []

    def answers() -> str:
        calls.append(1)
        return "answers"

    readiness = Readiness({"database": answers}, frozenset({"database"}), timeout_s=5,
                          cache_s=3600)
    assert readiness.report() is readiness.report()
    assert len(calls) == 1


def test_a_hung_check_is_not_started_again_until_it_ends() -> None:
    release, calls = threading.Event(), []

    def hangs() -> str:
        calls.append(1)
        release.wait(30)
        return "answers"

    readiness = Readiness({"redis": hangs}, frozenset({"redis"}), timeout_s=0.05, cache_s=0)
    first = readiness.report()
    assert not first.ready
    assert first.parts["redis"].detail == "no answer within 0.05 s"
    assert readiness.report().parts["redis"].detail == "an earlier check has not finished yet"
    assert len(calls) == 1
    release.set()
    readiness._running["redis"].thread.join(30)
    assert readiness.report().ready
    assert len(calls) == 2
