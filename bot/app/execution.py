"""Running an allowed plan on every host of the site: one operation per host (the script does
before-state, act, wait, warm-up and after-state) through the executor, then each host judged by
bot.app.verification."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.app.ports import Executor
from bot.app.results import OperationParams
from bot.app.verification import HostOutcome, host_outcome
from commands.rungs import Rung
from policies.inventory import Host, Inventory
from policies.planner import Plan


@dataclass(frozen=True)
class RunReport:
    outcome: str  # succeeded | failed | partially_failed
    hosts: list[HostOutcome]

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "hosts": [h.to_json() for h in self.hosts]}


def operation_params(plan: Plan, host: Host, request_id: str, timeout_s: float) -> OperationParams:
    return OperationParams(
        op="status" if plan.rung == Rung.NONE else plan.rung.value,
        request_id=request_id,
        iis_site=plan.iis_site,
        app_path=plan.app,
        pool=plan.pool,
        method="" if plan.rung == Rung.NONE else plan.method,
        fallback=plan.appdomain_fallback if plan.rung == Rung.APPDOMAIN else "",
        warm_up=plan.rung == Rung.NONE,
        warmup_url=script_warmup_url(plan, host),
        warmup_path=plan.warmup_path,
        timeout_s=timeout_s,
    )


def script_warmup_url(plan: Plan, host: Host) -> str:
    """What the script on the host requests. The script sends it to this host (127.0.0.1 or the bound
    IP) with the URL's host name as Host header, as HTTP.sys routes by it; empty lets the script use
    the site's own binding (port and host name) and the plan's warm-up path."""
    if plan.warmup_url:
        return plan.warmup_url
    if host.warmup_base_url:
        return host.warmup_base_url.rstrip("/") + plan.warmup_path
    return ""


def run_plan(
    plan: Plan,
    inventory: Inventory,
    executor: Executor,
    request_id: str,
    timeout_s: float,
) -> RunReport:
    """Run the plan on every host. The `none` rung too runs on the host (status with a warm-up first):
    a warm-up from the bot would reach the load balancer or miss the site's host-header binding."""
    if plan.rung == Rung.SERVER:  # unreachable by policy; a second lock on the door
        raise ValueError("the server rung is never executed")
    hosts = [(name, inventory.hosts[name]) for name in plan.hosts]
    calls = [(name, host, operation_params(plan, host, request_id, timeout_s)) for name, host in hosts]
    started = time.monotonic()
    results = executor.run_many(calls)
    elapsed = int((time.monotonic() - started) * 1000)
    outcomes = [
        host_outcome(plan, name, result, elapsed)
        for (name, _, _), result in zip(calls, results, strict=True)
    ]
    ok = sum(1 for o in outcomes if o.outcome == "succeeded")
    overall = "succeeded" if ok == len(outcomes) else "failed" if ok == 0 else "partially_failed"
    return RunReport(overall, outcomes)
