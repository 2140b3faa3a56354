"""What the metrics cost a request: the answer hooks (a histogram observation and a counter by
endpoint), a token count and a directory round trip's observation, timed in a loop, in one
process (values in memory) and in prometheus-client's multiprocess mode (values in
memory-mapped files, as under `idp serve` with metrics enabled). Also one scrape's cost.

    python -m bench.metrics_cost
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

ROUNDS = 50_000

_MEASURE = """
import time
from idp.metrics import record
from idp.metrics.collectors import scrape

def per_call(fn, rounds=ROUNDS):
    fn()
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - started) / rounds * 1e6

from idp.metrics.web import _counter, _timer

def answer():
    started = time.perf_counter()
    _timer("oidc.token").observe(time.perf_counter() - started)
    _counter("oidc.token", 200).inc()

table = {("a", "b"): 1}
key = ("a", "b")
print(f"baseline: a dict lookup {per_call(lambda: table[key]):6.2f} us")

print(f"answer hooks  {per_call(answer):6.2f} us")
print(f"token count   {per_call(lambda: record.token_issued('authorization_code', 'rp1')):6.2f} us")
started = time.perf_counter()
def directory():
    record.directory_round_trip("tpu", "ldap://x", "bind", started)

print(f"directory obs {per_call(directory):6.2f} us")
print(f"one scrape    {per_call(lambda: scrape(None), 200) / 1000:6.2f} ms")
"""


def main() -> None:
    for label, env in (("one process", {}), ("multiprocess", {"PROMETHEUS_MULTIPROC_DIR": ""})):
        with tempfile.TemporaryDirectory() as directory:
            environ = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            if env:
                environ["PROMETHEUS_MULTIPROC_DIR"] = directory
            print(f"-- {label}")
            started = time.perf_counter()
            code = _MEASURE.replace("ROUNDS", str(ROUNDS))
            subprocess.run([sys.executable, "-c", code], env=environ, check=True)
            print(f"   ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
