"""``python -m bench.login_split``: where a whole login's CPU goes on this machine, by process.

`make bench` gives logins per second; this says what each login costs every process on the
machine while they run: the provider's workers, PostgreSQL, slapd, Redis and the load
generator itself, in CPU milliseconds per login, read from ``/proc`` before and after a
measurement of the same load generator as `make bench` (wrk, one thread per connection; 2
workers of 4 threads, PostgreSQL, Redis, the demo directories). Their sum against the cores
says how many logins per second the machine could give if nothing waited, and which process
to make cheaper next.

    .venv/bin/python -m bench.login_split [--seconds 10] [--concurrency 16]

Linux only (``/proc``); prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from collections import defaultdict
from pathlib import Path

from bench.__main__ import THREADS, bench_clients, scenarios, throwaway_postgres
from bench.wrk import login
from demo.slapd import free_port
from demo.stack import ProviderStack

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
GROUPS = ("provider", "postgres", "slapd", "redis-server", "wrk (load generator)")


def cpu_by_process() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, CPU seconds so far) of every process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) * TICK_S)
    return found


def group_of(pid: int, table: dict[int, tuple[str, int, float]], provider: int) -> str:
    name = table[pid][0]
    if name.startswith("postgres"):
        return "postgres"
    if name in ("slapd", "redis-server"):
        return name
    if name == "wrk":
        return "wrk (load generator)"
    seen = pid
    while seen in table and seen > 1:  # the provider's master and each worker it forked
        if seen == provider:
            return "provider"
        seen = table[seen][1]
    return "other"


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu_s() -> float:
    """CPU seconds the whole machine spent working, every core: user, nice, system, irq and
    softirq (not idle, iowait, or steal, the time the host gave to others)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) * TICK_S


def split(before: dict[int, tuple[str, int, float]], after: dict[int, tuple[str, int, float]],
          provider: int) -> defaultdict[str, float]:
    spent: defaultdict[str, float] = defaultdict(float)
    for pid, (_, _, cpu) in after.items():
        earlier = before.get(pid)
        spent[group_of(pid, after, provider)] += cpu - (earlier[2] if earlier else 0.0)
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.login_split",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    workers = os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="campus-split-") as tmp, throwaway_postgres() as db:
        stack = ProviderStack(Path(tmp), port=free_port(), clients=bench_clients(),
                              workers=workers, database_url=db,
                              extra_config={"server": {"threads": THREADS}})
        with stack:
            assert stack.process is not None
            [(_, spec_for)] = [(n, s) for n, s in scenarios(stack.issuer, {}) if "login" in n]
            login({**spec_for(args.concurrency), "seconds": 2.0})  # warm-up
            before, machine_before = cpu_by_process(), machine_cpu_s()
            children_before = children_cpu_s()
            result = login({**spec_for(args.concurrency), "seconds": args.seconds})
            after, machine_after = cpu_by_process(), machine_cpu_s()
            spent = split(before, after, stack.process.pid)
            # The generator ended before the second look: its CPU is this process's children's.
            spent["wrk (load generator)"] += children_cpu_s() - children_before
    logins = result["requests"]
    if not logins or result["errors"]:
        print(f"no clean measurement: {result}")
        return 1
    machine = machine_after - machine_before
    print(f"{logins} whole logins in {args.seconds:g} s at {args.concurrency}: "
          f"{result['rps']:,.0f}/s ({workers} provider workers of {THREADS} threads)")
    print(f"{'process':24} {'CPU ms per login':>17}")
    for group in (*GROUPS, "other"):
        print(f"{group:24} {spent[group] / logins * 1e3:>17.2f}")
    print(f"{'whole machine':24} {machine / logins * 1e3:>17.2f}")
    busy = machine / (args.seconds * (os.cpu_count() or 1))
    print(f"The machine was {busy:.0%} busy; at full use its {os.cpu_count()} cores would give "
          f"{(os.cpu_count() or 1) / (machine / logins):,.0f} logins/s at this cost per login.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
