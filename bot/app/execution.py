"""Running an allowed plan on every host of the site: one operation per host (the script does
before-state, act, wait, warm-up and after-state) through the executor, then each host judged by
bot.app.verification."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bot.app.ports import Executor, Warmup
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
        warmup_url=script_warmup_url(plan, host),
        timeout_s=timeout_s,
    )


def script_warmup_url(plan: Plan, host: Host) -> str:
    """What the script on the host requests. Empty lets the script find the site's own port from its
    http binding (`localhost:<port>` plus a phony .aspx under the app: it starts the worker and the
    AppDomain whatever the app serves), which a bare `http://localhost/` would miss for a site not
    on port 80."""
    if plan.warmup_url:
        return plan.warmup_url
    if host.warmup_base_url:
        return host.warmup_base_url.rstrip("/") + plan.warmup_path
    return ""


def bot_warmup_url(plan: Plan, host: Host) -> str:
    """What the bot itself requests for the `none` rung (nothing runs on the host but a read)."""
    if plan.warmup_url:
        return plan.warmup_url
    return (host.warmup_base_url or f"http://{host.address}").rstrip("/") + plan.warmup_path


def run_plan(
    plan: Plan,
    inventory: Inventory,
    executor: Executor,
    request_id: str,
    timeout_s: float,
    warmup: Warmup,
) -> RunReport:
    if plan.rung == Rung.SERVER:  # unreachable by policy; a second lock on the door
        raise ValueError("the server rung is never executed")
    hosts = [(name, inventory.hosts[name]) for name in plan.hosts]
    warmups: dict[str, tuple[int | None, int]] = {}
    if plan.rung == Rung.NONE:
        urls = [bot_warmup_url(plan, host) for _, host in hosts]
        with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:  # a first request may compile for seconds
            warmups = dict(zip([name for name, _ in hosts], pool.map(warmup, urls), strict=True))
    calls = [(name, host, operation_params(plan, host, request_id, timeout_s)) for name, host in hosts]
    started = time.monotonic()
    results = executor.run_many(calls)
    elapsed = int((time.monotonic() - started) * 1000)
    outcomes = [
        host_outcome(plan, name, result, warmups.get(name), elapsed)
        for (name, _, _), result in zip(calls, results, strict=True)
    ]
    ok = sum(1 for o in outcomes if o.outcome == "succeeded")
    overall = "succeeded" if ok == len(outcomes) else "failed" if ok == 0 else "partially_failed"
    return RunReport(overall, outcomes)
