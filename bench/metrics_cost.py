"""What measuring costs: the bot's CPU per host operation on a 200-host rollout without and with
`serve`'s metrics (bench/rollout.py, alternating, each in a fresh process against one simulated farm
in its own process), the CPU of one /metrics exposition, and the direct cost of each recording call
(in this process, many calls timed together).

    .venv/bin/python bench/metrics_cost.py [--hosts 200] [--parallel 50] [--pairs 3] [--runs 3]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from run import rollout, start_farm, stop_farm  # bench/ is on the path of a script run from it

from bot.app.events import EventKind, RequestEvent
from bot.app.views import ApprovalView, RequestView
from bot.metrics.registry import PrometheusMetrics


def per_call_ns(call: Any, times: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(times):
        call()
    return (time.perf_counter_ns() - start) / times


def direct_costs(hosts: int, times: int = 20000) -> dict[str, float]:
    metrics = PrometheusMetrics()
    at = datetime.now(UTC)
    view = RequestView(id="r-1", state="succeeded", site="farm-web", rung="worker", targets=["sim001"],
                       pool="FarmPool", requester="U1", requester_display="alice", origin="slack",
                       created_at=at, updated_at=at + timedelta(seconds=90),
                       approvals=[ApprovalView(approver="U2", display="bob", at=at + timedelta(seconds=60))])
    host_event = RequestEvent(kind=EventKind.HOST_FINISHED, request_id="r-1", site="farm-web", rung="worker",
                              host="sim001", state="running", request=view)
    finished = host_event.model_copy(update={"kind": EventKind.FINISHED, "state": "succeeded", "host": None})
    costs = {
        "observe_host_event_ns": per_call_ns(lambda: metrics.observe(host_event), times),
        "observe_finished_ns": per_call_ns(lambda: metrics.observe(finished), times),
        "record_probe_ns": per_call_ns(lambda: metrics.record_probe("farm-web", "sim001", "ok", 0.2), times),
        "count_slack_call_ns": per_call_ns(lambda: metrics.count_slack_call("chat.update", 200), times),
    }
    for i in range(1, hosts + 1):  # a scrape of a watched farm: every host probed, some outcomes each
        for outcome in ("ok", "slow", "hung"):
            metrics.record_probe("farm-web", f"sim{i:03d}", outcome, 0.2)
    start = time.perf_counter()
    text = generate_latest(metrics.registry)
    costs["scrape_ms_with_probed_hosts"] = (time.perf_counter() - start) * 1000
    costs["scrape_bytes_with_probed_hosts"] = len(text)
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--recycle-s", type=float, default=2)
    parser.add_argument("--cold-start-s", type=float, default=1)
    args = parser.parse_args(argv)

    without: list[dict[str, Any]] = []
    measured: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="aspreset-bench-") as tmp:
        sim, client = start_farm(args.hosts, Path(tmp), args)
        try:
            for pair in range(args.pairs):  # alternating which goes first: a farm that grows slower, or a
                # busy moment of the shared machine, falls on both alike
                for metrics in ((False, True) if pair % 2 == 0 else (True, False)):
                    extra = ("--metrics",) if metrics else ()
                    (measured if metrics else without).append(
                        rollout(client, args.parallel, args.runs, "appdomain", *extra))
        finally:
            stop_farm(sim)

    def cpu(results: list[dict[str, Any]]) -> list[float]:
        return [round(r["cpu_ms_per_host_op"], 2) for r in results]

    result = {
        "hosts": args.hosts, "max_parallel": args.parallel, "runs_per_process": args.runs,
        "cpu_ms_per_host_op_without": cpu(without),
        "cpu_ms_per_host_op_with": cpu(measured),
        "median_without": statistics.median(cpu(without)),
        "median_with": statistics.median(cpu(measured)),
        "scrape_cpu_ms_after_rollouts": [r["scrape_cpu_ms"] for r in measured],
        "peak_rss_mb_without": [round(r["peak_rss_mb"]) for r in without],
        "peak_rss_mb_with": [round(r["peak_rss_mb"]) for r in measured],
        **direct_costs(args.hosts),
    }
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
