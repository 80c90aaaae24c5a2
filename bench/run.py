"""`make bench`: every benchmark in bench/, each printing its numbers.

The rolling-restart benchmark runs the simulated farm in its own process (`aspreset sim` with
injected latency, recycle time and cold start) and the bot in another process per combination
(bench/rollout.py), so the CPU seconds and peak RSS measured are the bot's own. The combinations
are chosen to finish in a few minutes on a 2-core machine: a combination whose ideal schedule is
longer than `--budget-s` (200 hosts one at a time: about 4 minutes) is skipped and said so.

    .venv/bin/python bench/run.py [--hosts 10 50 200] [--parallel 1 10 50] [--latency-ms 20]
        [--recycle-s 2] [--cold-start-s 1] [--budget-s 70]
        [--only rollout|winrm-requests|farm-restart|slack-ack|metrics-cost]
        [--update-docs]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "benchmarks-rollout.png"
START, END = "<!-- rollout:start -->", "<!-- rollout:end -->"
PER_HOST_GUESS_S = 1.2  # cold start 1 s + a few WinRM round trips: only to decide what fits the budget


def farm_toml(hosts: int) -> str:
    names = [f"sim{i:03d}" for i in range(1, hosts + 1)]
    tables = [f'[hosts.{n}]\naddress = "{n}.bench.example"\ntransport = "basic"\nlab = true\n' for n in names]
    tables.append(
        '[sites.farm-web]\nenvironment = "bench"\nhosts = [' + ", ".join(f'"{n}"' for n in names) + "]\n"
        'iis_site = "Farm"\npool = "FarmPool"\n'
    )
    return "\n".join(tables)


def start_farm(hosts: int, workdir: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], Path]:
    farm, client = workdir / f"farm{hosts}.toml", workdir / f"client{hosts}.toml"
    farm.write_text(farm_toml(hosts), encoding="utf-8")
    sim = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sim", "--inventory", str(farm), "--inventory-out", str(client),
         "--latency-ms", f"{args.latency_ms:g}", "--recycle-s", f"{args.recycle_s:g}",
         "--cold-start-s", f"{args.cold_start_s:g}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "ASPRESET_CONFIG": ""}, cwd=ROOT,
    )
    assert sim.stdout is not None
    seen, deadline = b"", time.monotonic() + 120
    with selectors.DefaultSelector() as selector:
        selector.register(sim.stdout, selectors.EVENT_READ)
        while b"inventory for this farm" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or sim.poll() is not None:
                sim.kill()
                raise SystemExit(f"the simulated farm did not start: {seen.decode(errors='replace')[-500:]}")
            if selector.select(timeout=left):
                seen += os.read(sim.stdout.fileno(), 65536)
    return sim, client


def stop_farm(sim: subprocess.Popen[bytes]) -> None:
    sim.send_signal(2)  # SIGINT: the farm stops its servers and exits 0
    try:
        sim.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sim.kill()
        sim.wait()


def rollout(client: Path, parallel: int, runs: int, rung: str, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(HERE / "rollout.py"), "--inventory", str(client), "--max-parallel", str(parallel),
         "--runs", str(runs), "--rung", rung, *extra],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench/rollout.py failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def bench_rollouts(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="aspreset-bench-") as tmp:
        for hosts in args.hosts:
            plan = [p for p in args.parallel if math.ceil(hosts / p) * PER_HOST_GUESS_S <= args.budget_s]
            skipped += [f"{hosts} hosts at max_parallel {p}" for p in args.parallel if p not in plan]
            if not plan:
                continue
            sim, client = start_farm(hosts, Path(tmp), args)
            try:
                for parallel in plan:
                    waves = math.ceil(hosts / parallel)
                    runs = args.runs if waves * PER_HOST_GUESS_S <= 10 else 1  # long schedules once
                    result = rollout(client, parallel, runs, args.rung)
                    results.append(result)
                    print(row(result), file=sys.stderr, flush=True)
            finally:
                stop_farm(sim)
    return results, skipped


def row(r: dict[str, Any]) -> str:
    walls = r["wall_s"]
    later = r["requests_per_host_later"]
    return (f"| {r['hosts']} | {r['max_parallel']} | {math.ceil(r['hosts'] / r['max_parallel'])} "
            f"| {r['per_host_s']:.2f} s | {r['ideal_s']:.2f} s | {walls[0]:.2f} s"
            f"{f' ({min(walls[1:]):.2f} s)' if len(walls) > 1 else ''} | {r['ratio_first']:.3f}x "
            f"| {r['requests_per_host_first']:.1f} / {f'{later:.1f}' if later is not None else '-'} "
            f"| {r['cpu_s']:.2f} s ({r['cpu_ms_per_host_op']:.1f} ms) | {r['peak_rss_mb']:.0f} MB |")


HEADER = [
    "| hosts | max_parallel | waves | per-host time | ideal | wall time: first run (best later) | first / ideal "
    "| HTTP requests per host per op: first / later | bot CPU (per host per op) | bot peak RSS |",
    "|---|---|---|---|---|---|---|---|---|---|",
]


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    for parallel in sorted({r["max_parallel"] for r in results}):
        mine = sorted((r for r in results if r["max_parallel"] == parallel), key=lambda r: r["hosts"])
        hosts = [r["hosts"] for r in mine]
        line = axes.plot(hosts, [r["wall_s"][0] for r in mine], marker="o", label=f"measured, max_parallel {parallel}")
        axes.plot(hosts, [r["ideal_s"] for r in mine], linestyle="--", color=line[0].get_color(),
                  label=f"ideal, max_parallel {parallel}")
    axes.set_xlabel("hosts in the site")
    axes.set_ylabel("wall time of the rollout (s)")
    axes.set_title("Rolling appdomain restart against the simulated farm")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    print(f"wrote {path}", file=sys.stderr)


def update_docs(results: list[dict[str, Any]], skipped: list[str], args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    from docs_section import write_section

    chart(results, CHART)
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    command = (f".venv/bin/python bench/run.py --only rollout --hosts {' '.join(map(str, args.hosts))} "
               f"--parallel {' '.join(map(str, args.parallel))} --latency-ms {args.latency_ms:g} "
               f"--recycle-s {args.recycle_s:g} --cold-start-s {args.cold_start_s:g} --budget-s {args.budget_s:g} "
               f"--runs {args.runs} --update-docs")
    section = "\n".join([
        START,
        "## Rolling restarts at up to 200 hosts",
        "",
        "One site spread over N simulated hosts restarts at the `appdomain` rung in waves of",
        "`max_parallel` (the policy's `[environments.bench] max_parallel`). The simulated farm runs in",
        f"its own process (`aspreset sim` with `--latency-ms {args.latency_ms:g}` on every WinRM answer,",
        f"`--recycle-s {args.recycle_s:g}`, `--cold-start-s {args.cold_start_s:g}`: a new AppDomain's first",
        "request takes that long); the bot runs in another process per row (`bench/rollout.py`: the",
        "Service from `bootstrap.build`, SQLite store, WinRM over NTLM with message encryption), so CPU",
        "and RSS are the bot's own. Every run must succeed on every host.",
        "",
        "- **per-host time**: the median of 3 single-host restarts (`--host`), each on a new session:",
        f"  the handshake, the operation, the {args.cold_start_s:g} s compile and the bot's own work. **ideal** =",
        "  `ceil(hosts / max_parallel) x per-host time`.",
        "- **wall time**: the first rollout in a fresh bot process (every host's session new) and, in",
        "  brackets, the best later one (sessions reused).",
        "- **HTTP requests per host per op**, counted by the bot at its HTTP adapter (NTLM's legs",
        "  included): the first operation on a host costs 7 (pywinrm's NTLM handshake: an empty POST that",
        "  draws the 401, NEGOTIATE, AUTHENTICATE; then Create, Command, Send, Receive); later operations",
        "  reuse the session and its shell (`bot/winrm/sessions.py`) and cost 3: Command, Send, Receive.",
        "- **CPU**: the bot process's user+system seconds over the rollouts, and per host per operation.",
        "- **peak RSS**: the bot process's maximum resident set.",
        "",
        *HEADER,
        *(row(r) for r in results),
        "",
        ("Not run (ideal schedule over the budget of "
         f"{args.budget_s:g} s): {'; '.join(skipped)}." if skipped else "Every combination was run."),
        "",
        "![wall time against hosts, measured and ideal](benchmarks-rollout.png)",
        "",
        f"Measured on Python {platform.python_version()}, {platform.platform()}, nproc {nproc}, a machine",
        "shared with other work. Reproduce (about 9 minutes at `--budget-s 300`, 3 at the default 70 s,",
        "which skips 200 hosts one at a time; needs the bench extra for the chart,",
        f"`pip install -e '.[bench]'`): `{command}`.",
        END,
    ])
    write_section(START, END, section, DOCS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--runs", type=int, default=2, help="rollouts per row when the schedule is short")
    parser.add_argument("--rung", default="appdomain", choices=["appdomain", "apppool"])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--recycle-s", type=float, default=2.0)
    parser.add_argument("--cold-start-s", type=float, default=1.0)
    parser.add_argument("--budget-s", type=float, default=70.0, help="skip rows whose ideal schedule is longer")
    parser.add_argument("--only", choices=["rollout", "winrm-requests", "farm-restart", "slack-ack",
                                                     "metrics-cost"])
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the sections of {DOCS}")
    args = parser.parse_args(argv)

    if args.only in (None, "rollout"):
        results, skipped = bench_rollouts(args)
        print("\n".join([*HEADER, *(row(r) for r in results)]))
        if skipped:
            print(f"skipped (ideal schedule over {args.budget_s:g} s): {'; '.join(skipped)}")
        if args.update_docs:
            update_docs(results, skipped, args)
    extra = ["--update-docs"] if args.update_docs else []
    if args.only in (None, "winrm-requests"):
        subprocess.run([sys.executable, str(HERE / "winrm_requests.py"), "--runs", "10", *extra], check=True, cwd=ROOT)
    if args.only in (None, "farm-restart"):
        subprocess.run([sys.executable, str(HERE / "farm_restart.py"), "--hosts", "2", "8", "32", "--parallel", "1",
                        "8", "32", "--runs", "3", *extra], check=True, cwd=ROOT)
    if args.only in (None, "slack-ack"):
        subprocess.run([sys.executable, str(HERE / "slack_ack.py"), "--runs", "1", *extra], check=True, cwd=ROOT)
    if args.only in (None, "metrics-cost"):
        subprocess.run([sys.executable, str(HERE / "metrics_cost.py"), "--pairs", "4"], check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
