"""Wall time of restarting ONE site spread over N hosts, by rung and by the executor's `max_parallel`.

Everything runs for real against `bot.sim` on 127.0.0.1: the planner's plan, `run_plan`, real
pywinrm and real HTTP; the simulated hosts delay every WinRM response and count every request.

    .venv/bin/python bench/farm_restart.py [--hosts 2 8 32] [--parallel 1 8 32] [--runs 5]
        [--latency-ms 20] [--update-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import structlog
from docs_section import DOCS, write_section  # bench/ is on sys.path when run as a script
from winrm_requests import _ms  # bench/ is on sys.path when this file is run as a script

from bot.app.execution import HostSlots, run_plan
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from bot.winrm.executor import WinRMExecutor
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import default_policy
from policies.inventory import Host, Inventory, Site
from policies.planner import plan

START, END = "<!-- farm-restart:start -->", "<!-- farm-restart:end -->"
SITE, POOL = "shop-web", "ShopPool"
RUNGS = (Rung.APPPOOL, Rung.APPDOMAIN)
TIMING = SimTiming.fast()


def _inventory(hosts: int) -> Inventory:
    names = [f"web{i:02d}" for i in range(1, hosts + 1)]
    return Inventory(
        hosts={name: Host(address=name, transport="kerberos") for name in names},
        sites={SITE: Site(environment="bench", hosts=names, iis_site="Shop", pool=POOL)},  # one wave
    )


def measure(farm: Farm, rung: Rung, parallel: int, runs: int) -> tuple[list[float], list[int]]:
    """`runs` restarts of the site; wall time of each `run_plan` and WinRM requests across the farm."""
    client = farm.client_inventory()
    the_plan = plan(RestartRequest(site=SITE, scope=rung), client, default_policy())
    executor = WinRMExecutor(env={}, max_parallel=parallel)
    slots = HostSlots(parallel)  # how many hosts the rollout works on at once
    sims = list(farm.hosts.values())
    times: list[float] = []
    requests: list[int] = []
    for run in range(runs):
        for sim in sims:
            sim.reset_counters()
        pids_before = {sim.name: set(sim.pids(POOL)) for sim in sims}
        start = time.perf_counter()
        report = run_plan(the_plan, client, executor, f"bench-{rung}-{parallel}-{run}", 30, slots=slots)
        times.append(time.perf_counter() - start)
        requests.append(sum(sim.requests for sim in sims))
        assert report.outcome == "succeeded", report.to_json()
        assert len(report.hosts) == len(sims)
        if rung == Rung.APPPOOL:  # both what the bot reported and what the simulated IIS now runs
            for outcome in report.hosts:
                assert outcome.pids_after and not set(outcome.pids_before) & set(outcome.pids_after), outcome
            for sim in sims:
                now = set(sim.pids(POOL))
                assert now and not now & pids_before[sim.name], (sim.name, pids_before[sim.name], now)
    return times, requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 8, 32], help="executor max_parallel")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite this benchmark's section of {DOCS}")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # quiet per-call events

    lines = [
        "| hosts | rung | max_parallel | wall time, median (min-max) | WinRM requests/run |",
        "|---|---|---|---|---|",
    ]
    for hosts in args.hosts:
        with Farm.from_inventory(_inventory(hosts), timing=TIMING) as farm:
            for sim in farm.hosts.values():
                sim.inject_latency(args.latency_ms / 1000)
            for rung in RUNGS:
                for parallel in args.parallel:
                    times, requests = measure(farm, rung, parallel, args.runs)
                    count = f"{min(requests)}" if min(requests) == max(requests) else f"{min(requests)}-{max(requests)}"
                    lines.append(f"| {hosts} | {rung} | {parallel} | {_ms(times)} | {count} |")
                    print(lines[-1], file=sys.stderr, flush=True)  # progress
    report = "\n".join(lines)
    print(report)
    if args.update_docs:
        _update_docs(report, args)
    return 0


def _update_docs(report: str, args: argparse.Namespace) -> None:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    machine = f"Python {platform.python_version()}, {platform.platform()}, nproc {nproc}"
    command = (
        f".venv/bin/python bench/farm_restart.py --hosts {' '.join(map(str, args.hosts))} "
        f"--parallel {' '.join(map(str, args.parallel))} --runs {args.runs} --latency-ms {args.latency_ms:g} "
        "--update-docs"
    )
    section = "\n".join(
        [
            START,
            "## Restarting one site across a farm",
            "",
            "Wall time of `run_plan` for one site spread over N simulated hosts (`bot/sim`: real HTTP on",
            "127.0.0.1, real pywinrm), for the plan the planner makes with the default policy (a non-prod",
            "site: one wave of every host), at several bounds of hosts worked on at once (`HostSlots(size)`,",
            f"what `[winrm] max_parallel` sets). Every WinRM response is delayed by {args.latency_ms:g} ms; the",
            f"simulated IIS uses `SimTiming.fast()` (a new worker starts in {TIMING.worker_start_s * 1000:g} ms,",
            f"an old one drains for {TIMING.drain_s * 1000:g} ms after an overlapped recycle). Each run must",
            "succeed: the RunReport outcome is `succeeded` and, for `apppool`, every host's worker PIDs",
            "changed (as reported and as the simulated IIS sees it). Requests are WS-Management POSTs",
            "counted by every simulated host (warm-up GETs not included).",
            "",
            f"Median of {args.runs} runs (min-max):",
            "",
            report,
            "",
            f"Measured on {machine}. Reproduce: `{command}`.",
            END,
        ]
    )
    write_section(START, END, section)


if __name__ == "__main__":
    raise SystemExit(main())
