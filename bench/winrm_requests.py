"""WinRM cost of one restart: HTTP requests per host per operation, ours against pywinrm's naive
use, and the wall time of a two-host appdomain restart with injected latency.

Everything runs for real against `bot.sim` on 127.0.0.1: real pywinrm, real HTTP, requests counted
by the simulated hosts. "Naive" is `winrm.Session.run_ps` once per step (before-state, act, wait
polls, after-state), each step a script carrying the operation marker the simulator recognises.

    .venv/bin/python bench/winrm_requests.py [--runs 20] [--latency-ms 20] [--update-docs]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog
import winrm
from docs_section import DOCS, write_section  # bench/ is on sys.path when run as a script

from bot.app.results import Operation, OperationParams, StatusResult
from bot.sim.farm import Farm, SimHost
from bot.sim.timing import SimTiming
from bot.winrm.executor import HostCall, WinRMExecutor
from bot.winrm.scripts import MARKER_PREFIX, PARAMS_VARIABLE, encode_params
from policies.inventory import Host, Inventory, Site

START, END = "<!-- winrm-requests:start -->", "<!-- winrm-requests:end -->"
POLL_S = 0.5  # the naive client's polling interval (the scripts' default poll_ms)
TIMING = SimTiming(worker_start_s=0.05, drain_s=1.0, poll_s=0.02)  # an old worker drains for 1 s


def _inventory() -> Inventory:
    return Inventory(
        hosts={name: Host(address=name, transport="kerberos") for name in ("web01", "web02")},
        sites={"shop-web": Site(environment="prod", hosts=["web01", "web02"], iis_site="Shop", pool="ShopPool")},
    )


def _params(host: Host, op: Operation, **extra: object) -> OperationParams:
    values: dict[str, object] = {
        "op": op,
        "iis_site": "Shop",
        "pool": "ShopPool",
        "warmup_url": f"{host.warmup_base_url}/",
        "timeout_s": 30,
    }
    values.update(extra)
    return OperationParams.model_validate(values)


# ---- ours ----------------------------------------------------------------------------------------


def ours(farm: Farm, client: Inventory, op: Operation) -> int:
    sim, host = farm.host("web01"), client.hosts["web01"]
    return _count(sim, host, op)


def ours_ntlm(farm: Farm, op: Operation) -> int:
    return _count(farm.host("web01"), farm.client_inventory(transport="ntlm").hosts["web01"], op)


def _count(sim: SimHost, host: Host, op: Operation) -> int:
    sim.reset_counters()
    result = WinRMExecutor(env={}).run("web01", host, _params(host, op))
    assert result.ok, result.error
    return sim.requests


# ---- pywinrm's naive use -------------------------------------------------------------------------


class Naive:
    """One `Session.run_ps` per step, as most scripts around pywinrm do it."""

    def __init__(self, host: Host, host_header: str = "shop-1.sim") -> None:
        assert host.username and host.password
        self.host = host
        self.host_header = host_header  # HTTP.sys routes by it: the site's binding host name
        self.session = winrm.Session(host.endpoint, auth=(host.username, host.password), transport="basic")

    def step(self, op: Operation, **extra: object) -> StatusResult | dict[str, object]:
        params = _params(self.host, op, warmup_url="", **extra)
        script = f"{PARAMS_VARIABLE} = '{encode_params(params)}'\n{MARKER_PREFIX}{op}\n"
        response = self.session.run_ps(script)
        text = response.std_out.decode().strip()
        return StatusResult.model_validate_json(text) if op == "status" else {"raw": text}

    def warm_up(self) -> None:
        request = urllib.request.Request(f"{self.host.warmup_base_url}/", headers={"Host": self.host_header})
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def restart(self, op: Operation, done: Callable[[StatusResult, StatusResult], bool]) -> None:
        before = self.step("status")
        assert isinstance(before, StatusResult)
        self.step(op, timeout_s=0.05)  # act: Restart-WebAppPool / Stop-Process / Unload() return at once
        self.warm_up()  # from the bot, not over WinRM (not counted)
        while True:  # wait: poll the state
            now = self.step("status")
            assert isinstance(now, StatusResult)
            if done(before, now):
                break
            time.sleep(POLL_S)
        self.step("status")  # after-state for the report


def _processes(status: StatusResult) -> set[tuple[int, str]]:
    return {(w.pid, w.started_at) for w in status.workers}  # Windows (and the farm) reuse PIDs


def _restarts(status: StatusResult) -> int:
    return status.observed.app_restarts or 0 if status.observed else 0


# The AppDomain Id stays the same on a real server (and in the farm): the restart counter shows it.
NAIVE_DONE: dict[str, Callable[[StatusResult, StatusResult], bool]] = {
    "appdomain": lambda before, now: now.appdomain_id is not None and _restarts(now) > _restarts(before),
    "apppool": lambda before, now: bool(_processes(now)) and not _processes(before) & _processes(now),
    "worker": lambda before, now: bool(_processes(now)) and not _processes(before) & _processes(now),
}


def naive(farm: Farm, client: Inventory, op: Operation) -> int:
    sim = farm.host("web01")
    sim.reset_counters()
    if op == "status":
        Naive(client.hosts["web01"]).step("status")
    else:
        Naive(client.hosts["web01"]).restart(op, NAIVE_DONE[op])
    return sim.requests


# ---- wall time -----------------------------------------------------------------------------------


def wall_time(farm: Farm, client: Inventory, runs: int, latency_s: float) -> tuple[list[float], list[float]]:
    sims: list[SimHost] = [farm.host(name) for name in ("web01", "web02")]
    for sim in sims:
        sim.inject_latency(latency_s)
    executor = WinRMExecutor(env={})
    calls = [
        HostCall(name, client.hosts[name], _params(client.hosts[name], "appdomain")) for name in ("web01", "web02")
    ]
    mine: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        results = executor.run_many(calls)
        mine.append(time.perf_counter() - start)
        assert all(not isinstance(r, Exception) and r.ok for r in results), results
    theirs: list[float] = []

    def naive_restart(name: str) -> None:
        Naive(client.hosts[name]).restart("appdomain", NAIVE_DONE["appdomain"])

    with ThreadPoolExecutor(2) as pool:
        for _ in range(runs):
            start = time.perf_counter()
            list(pool.map(naive_restart, ["web01", "web02"]))
            theirs.append(time.perf_counter() - start)
    for sim in sims:
        sim.clear_faults()
    return mine, theirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite this benchmark's section of {DOCS}")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # quiet per-call events

    rows = []
    with Farm.from_inventory(_inventory(), timing=TIMING) as farm:
        client = farm.client_inventory()
        for op in ("status", "appdomain", "apppool", "worker"):
            rows.append((op, ours(farm, client, op), ours_ntlm(farm, op), naive(farm, client, op)))
            farm.host("web01").iis.start_pool(farm.host("web01").pool("ShopPool"))  # forget kills (rapid-fail)
        mine, theirs = wall_time(farm, client, args.runs, args.latency_ms / 1000)

    lines = [
        "| operation | ours, basic (requests/host) | ours, ntlm + encryption | naive `run_ps` per step, basic |",
        "|---|---|---|---|",
        *[f"| {op} | {a} | {b} | {c} |" for op, a, b, c in rows],
        "",
        f"Two-host appdomain restart with {args.latency_ms:g} ms injected per WinRM request, "
        f"median of {args.runs} runs (min-max):",
        "",
        "| client | wall time |",
        "|---|---|",
        f"| ours (`run_many`, hosts in parallel) | {_ms(mine)} |",
        f"| naive (`run_ps` per step, hosts in parallel) | {_ms(theirs)} |",
    ]
    report = "\n".join(lines)
    print(report)
    if args.update_docs:
        _update_docs(report, args)
    return 0


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms ({min(samples) * 1000:.0f}-{max(samples) * 1000:.0f})"


def _update_docs(report: str, args: argparse.Namespace) -> None:
    machine = f"Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    section = "\n".join(
        [
            START,
            "## WinRM requests per operation",
            "",
            "What one restart costs on the wire, measured for real against the simulated farm (`bot/sim`:",
            "real HTTP on 127.0.0.1, real pywinrm; the simulated hosts count every request). The simulator",
            "does not interpret PowerShell: it recognises each operation by its marker line and runs it",
            "against an in-memory IIS model, so these are protocol costs, not PowerShell run times.",
            "",
            "- **ours**: `WinRMExecutor`, one shell and one command per host per operation: Create, Command,",
            "  Send (the script on stdin), Receive (until Done), Delete. No Signal when the command finished.",
            "  Over NTLM (http with WinRM message encryption) the connection's handshake adds three, once",
            "  per session: pywinrm's empty POST that draws the 401, NEGOTIATE, AUTHENTICATE.",
            "- **naive**: `winrm.Session.run_ps` once per step, as most pywinrm scripts do: before-state, act,",
            f"  wait (poll the state every {POLL_S * 1000:.0f} ms), after-state; each call is Create, Command,",
            "  Receive, Signal, Delete on a new TCP connection. The warm-up request is sent from the client",
            f"  and not counted. The simulated old worker drains for {TIMING.drain_s:g} s, so waiting for a",
            "  recycle takes a few polls.",
            "",
            report,
            "",
            f"Measured on {machine}. Reproduce: `.venv/bin/python bench/winrm_requests.py --runs {args.runs} "
            f"--latency-ms {args.latency_ms:g} --update-docs`.",
            END,
        ]
    )
    write_section(START, END, section)


if __name__ == "__main__":
    raise SystemExit(main())
