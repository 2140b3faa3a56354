"""The worker processes' shared metrics directory, chosen by ``idp serve`` before any worker
starts and before ``prometheus_client`` is imported anywhere in the process: every process
then writes its values to files there (prometheus-client's multiprocess mode), and a scrape
answered by any of them, or by the separate listener, adds them all up.

The directory is emptied at start (a configured one) or made new (a temporary one, removed
when ``idp serve`` exits); the live gauges of workers that have exited are dropped at each
scrape (``idp.metrics.collectors.forget_exited``). This module imports no metrics itself.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

from idp.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsTooEarly(RuntimeError):
    """prometheus_client was imported before its directory was chosen: each process would
    count on its own and a scrape would see one worker's share."""


def prepare_processes(settings: Settings) -> None:
    """For ``idp serve``: choose the directory, and start the separate listener when
    ``[metrics] listen`` is set. Does nothing when metrics are disabled."""
    if not settings.metrics.enabled:
        return
    if "prometheus_client" in sys.modules and not os.environ.get(MULTIPROC_ENV):
        raise MetricsTooEarly("prometheus_client is imported before idp serve chose its "
                              "multiprocess directory")
    os.environ[MULTIPROC_ENV] = str(_directory(settings.metrics.multiprocess_dir))
    if settings.metrics.listen:
        from idp.metrics.listener import start_listener

        start_listener(settings)


def _remove(path: Path, owner: int) -> None:
    """Forked workers inherit atexit handlers: only the process that made it removes it."""
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def _directory(configured: str) -> Path:
    if not configured:
        made = Path(tempfile.mkdtemp(prefix="campus-id-metrics-"))
        atexit.register(_remove, made, os.getpid())
        return made
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # a previous run's counts are not this run's
        stale.unlink()
    return path
