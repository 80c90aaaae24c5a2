"""The bot's side of the rolling-restart benchmark: one process per (hosts, max_parallel), so its CPU
seconds and peak RSS are the bot's own. The simulated farm runs in another process (`aspreset sim`,
started by bench/run.py) and this one reaches it only over HTTP on 127.0.0.1.

It builds the Service through `bot.bootstrap.build` (real SQLite store, real WinRM executor over
NTLM with message encryption), with a policy whose `bench` environment restarts `max_parallel`
hosts per wave, then:

1. restarts single hosts (`--host`) on fresh sessions: the per-host time of the ideal schedule;
2. restarts the whole site `--runs` times and reports each wall time, the HTTP requests the bot
   sent per host per operation (NTLM handshake legs included), its CPU seconds and peak RSS.

    .venv/bin/python bench/rollout.py --inventory FARM.toml --max-parallel 50 [--runs 2] [--rung appdomain]
        [--metrics]

With --metrics the Runtime measures as `serve`'s does (bot.metrics: every request event counted, the
executor's failures too), and the result adds the CPU of one /metrics exposition afterwards.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import generate_latest

from bot.bootstrap import build, executor_for
from bot.config import Settings, WinRMSettings
from bot.metrics.registry import PrometheusMetrics
from bot.winrm.executor import WinRMExecutor
from bot.winrm.transport import HostSession
from commands.model import RestartRequest
from commands.rungs import Rung
from policies.files import load_inventory, parse_policy
from policies.identity import Principal
from policies.inventory import Inventory

SITE = "farm-web"
REQUESTER = Principal(id="cli:bench")


def policy_text(max_parallel: int) -> str:
    return f"""
[environments.bench]
max_parallel = {max_parallel}

[[rules]]
name = "the benchmark restarts apps and recycles pools"
effect = "allow"
rungs = ["none", "appdomain", "apppool"]
"""


class CountingExecutor(WinRMExecutor):
    """The bootstrap's executor, counting every HTTP request its host sessions send (NTLM's handshake
    legs included: bot.winrm.transport's adapter counts them on each session's watch)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent = 0
        self.released = 0  # host calls ended (each gives its session back once)
        self._seen: dict[int, int] = {}  # id(session) -> its count when last given back
        self._lock = threading.Lock()

    def release_session(self, session: HostSession, *, reusable: bool) -> None:
        with self._lock:
            self.sent += session.watch.requests - self._seen.get(id(session), 0)
            self._seen[id(session)] = session.watch.requests
            self.released += 1
        super().release_session(session, reusable=reusable)


def counting_executor(settings: Settings, metrics: PrometheusMetrics | None = None) -> CountingExecutor:
    built = executor_for(settings, metrics)
    return CountingExecutor(env=settings.env, max_parallel=built.max_parallel, timeouts=built.timeouts,
                            deadlines=built.deadlines, ca_trust_path=built.ca_trust_path, keep_shells=True,
                            on_error=built.on_error)


def ntlm(inventory: Inventory) -> Inventory:
    """The farm's inventory over NTLM with message encryption (the simulator speaks both)."""
    hosts = {name: host.model_copy(update={"transport": "ntlm"}) for name, host in inventory.hosts.items()}
    return Inventory(hosts=hosts, sites=inventory.sites)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", required=True, help="the client inventory `aspreset sim` wrote")
    parser.add_argument("--max-parallel", type=int, required=True)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--single", type=int, default=3, help="single-host restarts for the per-host time")
    parser.add_argument("--rung", default="appdomain", choices=["appdomain", "apppool"])
    parser.add_argument("--transport", default="ntlm", choices=["ntlm", "basic"])
    parser.add_argument("--metrics", action="store_true", help="measure as serve does (bot.metrics)")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # no per-call log lines

    inventory = load_inventory(args.inventory)  # Basic over http, as the simulator writes it
    if args.transport == "ntlm":
        inventory = ntlm(inventory)
    site = inventory.sites[SITE]
    hosts = len(site.hosts)
    rung = Rung(args.rung)

    with tempfile.TemporaryDirectory(prefix="aspreset-bench-") as workdir:
        settings = Settings.of(
            parse_policy(policy_text(args.max_parallel), "bench-policy.toml"), inventory, workdir=Path(workdir),
            db_url=f"sqlite:///{Path(workdir) / 'bench.db'}",
            winrm=WinRMSettings(max_parallel=min(64, args.max_parallel), command_timeout_s=60),
        )
        # per-host time: one host alone, on a session of its own (the handshake included, as in a rollout)
        single: list[float] = []
        for name in site.hosts[-args.single:]:
            runtime = build(settings)
            service = runtime.service
            start = time.perf_counter()
            view = service.request(RestartRequest(site=SITE, scope=rung, hosts=(name,)), REQUESTER, "bench")
            single.append(time.perf_counter() - start)
            assert view.state == "succeeded", view.model_dump_json()
            runtime.close()

        metrics = PrometheusMetrics() if args.metrics else None
        executor = counting_executor(settings, metrics)
        runtime = build(settings, executor=executor, metrics=metrics)  # the executor is given, so closed here
        service = runtime.service
        walls: list[float] = []
        requests_per_run: list[int] = []
        cpu_before = cpu_s()
        for _ in range(args.runs):
            before = executor.sent
            start = time.perf_counter()
            view = service.request(RestartRequest(site=SITE, scope=rung), REQUESTER, "bench")
            walls.append(time.perf_counter() - start)
            requests_per_run.append(executor.sent - before)
            bad = [h for h in view.hosts if h.outcome != "succeeded"]
            assert view.state == "succeeded" and len(view.hosts) == hosts, bad[:3]
            assert view.plan is not None and len(view.plan.waves) == math.ceil(hosts / args.max_parallel)
        cpu = cpu_s() - cpu_before
        scrape_cpu_ms = None
        if metrics is not None:
            before_scrape = cpu_s()
            generate_latest(metrics.registry)
            scrape_cpu_ms = (cpu_s() - before_scrape) * 1000
        runtime.close()
        executor.close()  # the hosts' kept shells deleted

    per_host = statistics.median(single)
    ideal = math.ceil(hosts / args.max_parallel) * per_host
    result = {
        "hosts": hosts,
        "max_parallel": args.max_parallel,
        "rung": rung.value,
        "runs": args.runs,
        "per_host_s": per_host,
        "ideal_s": ideal,
        "wall_s": walls,
        "ratio_first": walls[0] / ideal,
        "ratio_best": min(walls) / ideal,
        "requests_per_host_first": requests_per_run[0] / hosts,
        "requests_per_host_later": (statistics.mean(requests_per_run[1:]) / hosts) if args.runs > 1 else None,
        "cpu_s": cpu,
        "cpu_ms_per_host_op": cpu * 1000 / (hosts * args.runs),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "metrics": args.metrics,
        "scrape_cpu_ms": scrape_cpu_ms,
    }
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
