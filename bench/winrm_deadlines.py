"""How long a two-host `status` and a two-host apppool restart take when one host misbehaves, against
the configured deadline: the misbehaving host should cost its deadline (not the 30 s read timeout,
not forever) and the healthy host should answer as usual.

Everything is real: the simulated farm on 127.0.0.1, `tests/hostile_endpoint.py` in front of web01, pywinrm
over HTTP, the executor with its per-operation deadlines.

    .venv/bin/python bench/winrm_deadlines.py [--status-deadline 3] [--restart-deadline 6] [--runs 3]
        [--update-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import structlog
from docs_section import DOCS, write_section  # bench/ is on sys.path when run as a script

from bot.app.errors import ExecutionError
from bot.app.results import OperationParams
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.winrm.deadline import Deadlines
from bot.winrm.executor import WinRMExecutor
from bot.winrm.transport import Timeouts
from policies.inventory import Host, Inventory, Site

# the misbehaving endpoint is test equipment, kept under tests/
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hostile_endpoint import HostileEndpoint

START, END = "<!-- winrm-deadlines:start -->", "<!-- winrm-deadlines:end -->"
CASES = [
    ("healthy", None, None),
    ("silent from the first request", "silent", None),
    ("dripping its answer (3 bytes / 50 ms)", "drip", ["Receive"]),
    ("stalled mid-body", "stall", ["Receive"]),
    ("HTML page", "html", ["Create"]),
    ("reset mid-reply", "reset", ["Receive"]),
]


def _inventory() -> Inventory:
    hosts = {name: Host(address=f"{name}.bench", transport="basic", lab=True) for name in ("web01", "web02")}
    site = Site(environment="lab", hosts=list(hosts), iis_site="Shop", pool="ShopPool")
    return Inventory(hosts=hosts, sites={"shop-web": site})


def _params(op: str, host: Host) -> OperationParams:
    return OperationParams(op=op, iis_site="Shop", pool="ShopPool", timeout_s=1, poll_ms=50,
                           warmup_url=f"{host.warmup_base_url}/")


def _one(executor: WinRMExecutor, calls: list[tuple[str, Host, OperationParams]]) -> tuple[float, str, str]:
    started = time.monotonic()
    web01, web02 = executor.run_many(calls)
    took = time.monotonic() - started
    first = web01.code if isinstance(web01, ExecutionError) else "ok"
    second = web02.code if isinstance(web02, ExecutionError) else "ok"
    return took, first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--status-deadline", type=float, default=3.0)
    parser.add_argument("--restart-deadline", type=float, default=6.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite this benchmark's section of {DOCS}")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))

    deadlines = Deadlines(status_s=args.status_deadline, restart_s=args.restart_deadline, cleanup_s=1.0)
    executor = WinRMExecutor(env={}, timeouts=Timeouts(connect_s=2, read_s=30, max_operation_s=5),
                             deadlines=deadlines)
    rows = []
    with Farm.from_inventory(_inventory(), timing=SimTiming.fast()) as farm:
        client = farm.client_inventory()
        for label, kind, actions in CASES:
            for op, deadline in (("status", args.status_deadline), ("apppool", args.restart_deadline)):
                times, codes = [], set()
                for _ in range(args.runs):
                    with HostileEndpoint(farm.host("web01").wsman_port) as hostile:
                        if kind is not None:
                            hostile.misbehave(kind, actions=actions)  # type: ignore[arg-type]
                        web01 = client.hosts["web01"].model_copy(update={"port": hostile.port})
                        calls = [(name, host, _params(op, client.hosts[name])) for name, host in
                                 (("web01", web01), ("web02", client.hosts["web02"]))]
                        took, first, second = _one(executor, calls)
                    times.append(took)
                    codes.add(f"{first} / {second}")
                rows.append((label, op, deadline, statistics.median(times), max(times), ", ".join(sorted(codes))))

    header = "| web01 | operation | deadline s | median s | max s | web01 / web02 |"
    lines = [header, "|---|---|---|---|---|---|"]
    lines += [f"| {label} | {op} | {d:g} | {med:.2f} | {mx:.2f} | {codes} |" for label, op, d, med, mx, codes in rows]
    table = "\n".join(lines)
    print(table)
    if args.update_docs:
        section = "\n".join([
            START,
            "## A misbehaving host against its deadline",
            "",
            "`bench/winrm_deadlines.py`: a two-host `status` and a two-host apppool restart, web01 behind",
            "`hostile_endpoint` misbehaving as named, web02 healthy, per-read timeout 30 s, clean-up budget 1 s.",
            "Each host call ends by its own deadline, whatever web01 does; web02 answers as usual (its result is",
            "in the last column). Before the deadline existed, a `status` against a silent host took 61 s (a 30 s",
            "read timeout, retried) and a dripping host never ended.",
            "",
            table,
            "",
            f"{args.runs} runs each; {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs.",
            f"Reproduce: `.venv/bin/python bench/winrm_deadlines.py --status-deadline {args.status_deadline:g} "
            f"--restart-deadline {args.restart_deadline:g} --runs {args.runs} --update-docs`.",
            END,
        ])
        write_section(START, END, section)


if __name__ == "__main__":
    main()
