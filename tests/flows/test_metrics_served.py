"""Metrics under `idp serve` with two worker processes (prometheus-client's multiprocess
mode): what each worker counted lands in one scrape, whichever process answers it (a worker
on the provider's port, or the separate listener in the parent), and nothing is public."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from demo.slapd import free_ports
from demo.stack import ProviderStack
from tests.conftest import _reset_postgres

TOKEN = "served-metrics-token-0123456789abcdef0123"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
HEALTHZ = ("idp_http_requests_total", (("endpoint", "health.healthz"), ("status", "200")))


class Served:
    def __init__(self, stack: ProviderStack, listener: str, directory: Path) -> None:
        self.stack, self.listener, self.directory = stack, listener, directory
        self.http = requests.Session()
        self.http.trust_env = False


@pytest.fixture(scope="module", params=[
    "granian", pytest.param("gunicorn", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """granian on SQLite; gunicorn on PostgreSQL, whose connections a fork must not share
    (the listener's own engine lives in the workers' parent)."""
    workdir = tmp_path_factory.mktemp("metrics-served")
    database_url = None
    if request.param == "gunicorn":
        database_url = request.getfixturevalue("postgres_server")
        _reset_postgres(database_url)
    port, metrics_port = free_ports(2)
    directory = workdir / "metrics"
    config = {"server": {"engine": request.param},
              "metrics": {"enabled": True, "token": TOKEN, "listen": f"127.0.0.1:{metrics_port}",
                          "multiprocess_dir": str(directory)}}
    with ProviderStack(workdir, port=port, workers=2, extra_config=config,
                       database_url=database_url) as stack:
        yield Served(stack, f"http://127.0.0.1:{metrics_port}", directory)


def healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name, tuple(sorted(sample.labels.items()))) == HEALTHZ:
                return sample.value
    return 0.0


def counts_by_process(directory: Path) -> dict[int, float]:
    """/healthz answers each process counted, read from its own file."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        metrics = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        counts[int(path.stem.split("_")[1])] = sum(
            s.value for m in metrics for s in m.samples
            if (s.name, tuple(sorted(s.labels.items()))) == HEALTHZ)
    return {pid: n for pid, n in counts.items() if n}


def test_both_workers_counts_land_in_one_scrape(served: Served) -> None:
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(10):  # until both workers have answered some (usually the first round)
            answers = list(pool.map(lambda _: requests.get(  # a connection each: both accept
                served.stack.issuer + "/healthz", timeout=30).status_code, range(100)))
            assert answers == [200] * 100
            sent += 100
            if len(counts_by_process(served.directory)) >= 2:
                break
    by_process = counts_by_process(served.directory)
    assert len(by_process) >= 2, by_process
    assert sum(by_process.values()) == sent

    from_listener = served.http.get(served.listener + "/metrics", timeout=30, headers=BEARER)
    assert from_listener.status_code == 200
    assert healthz_count(from_listener.text) == sent
    assert "idp_delivery_queue_up 1.0" in from_listener.text  # its own engine, after the forks
    from_a_worker = served.http.get(served.stack.issuer + "/metrics", timeout=30,
                                    headers=BEARER)
    assert from_a_worker.status_code == 200
    assert healthz_count(from_a_worker.text) == sent
    assert "idp_delivery_queue_up 1.0" in from_a_worker.text


def test_both_addresses_ask_for_the_token(served: Served) -> None:
    for url in (served.listener + "/metrics", served.stack.issuer + "/metrics"):
        refused = served.http.get(url, timeout=30, headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        assert "idp_" not in refused.text
    assert served.http.get(served.listener + "/other", timeout=30).status_code == 404
