"""Slack during a big rollout: how the bot paces its Web API calls and how fast Slack commands are
acknowledged while a 200-host site restarts in waves of 50.

The simulated farm runs in its own process (`aspreset sim`, real WinRM on 127.0.0.1), and so does
the bot (`aspreset serve`, its WebClient pointed at the local fake of Slack's Web API, a config file
giving the 200-host inventory, a policy with waves of 50 and `[winrm] max_parallel = 50`); this
process holds the fake, which counts every call, and the signed senders. One signed `/recycle
farm-web --scope apppool` starts the rollout; while it runs, `--commands` signed commands (plan,
status, help) are sent `--concurrency` at a time and their ack times measured. Reported:

- Web API calls per minute per method over the rollout, and 429s (none expected);
- the largest number of chat.update calls on the request's one message in any one second;
- the time from the run's end (as recorded in the store) to the final message landing (goal < 2 s);
- ack p50/p99 of the commands sent during the rollout (goal p99 < 100 ms).

    .venv/bin/python bench/slack_rollout.py [--hosts 200] [--wave 50] [--commands 200] [--concurrency 20]
        [--latency-ms 20] [--update-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "frontends" / "slack"))  # the fake Slack and the signed sender

import structlog  # noqa: E402
from docs_section import write_section  # noqa: E402  (bench/ is on sys.path when run as a script)
from fake_slack import FakeSlack  # noqa: E402
from run import start_farm, stop_farm  # noqa: E402
from slack_ack import serve_process  # noqa: E402
from slack_http import ALICE, BOB, SIGNING_SECRET, SlackSender  # noqa: E402

from bot.sim.cli import inventory_toml  # noqa: E402
from bot.store import SqlStore  # noqa: E402
from policies.files import load_inventory  # noqa: E402

START, END = "<!-- slack-rollout:start -->", "<!-- slack-rollout:end -->"
SITE, CHANNEL = "farm-web", "C0FARM"
MIX = ("plan farm-web --scope appdomain", "help", "sites", "plan farm-web --reason hung")


def policy_text(wave: int) -> str:
    return f"""
[environments.bench]
max_parallel = {wave}

[[rules]]
name = "the benchmark recycles pools"
effect = "allow"
rungs = ["none", "appdomain", "apppool"]
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, object]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory(prefix="aspreset-slack-bench-") as tmp, FakeSlack() as fake:
        workdir = Path(tmp)
        farm_args = argparse.Namespace(latency_ms=args.latency_ms, recycle_s=0.25, cold_start_s=0.05)
        sim, client = start_farm(args.hosts, workdir, farm_args)
        try:
            inventory = load_inventory(client)
            inventory = inventory.model_copy(update={"sites": {
                SITE: inventory.sites[SITE].model_copy(update={"channel": CHANNEL})}})
            (workdir / "inventory.toml").write_text(inventory_toml(inventory), encoding="utf-8")
            (workdir / "policy.toml").write_text(policy_text(args.wave), encoding="utf-8")
            config = workdir / "aspreset.toml"
            config.write_text(f'policy = "policy.toml"\ninventory = "inventory.toml"\n\n[winrm]\n'
                              f"max_parallel = {min(64, args.wave)}\ncommand_timeout_s = 60\n", encoding="utf-8")
            db_url = f"sqlite:///{workdir / 'bench.db'}"
            with serve_process(fake, config, workdir, db_url) as url:
                found = measure(args, fake, SlackSender(url, SIGNING_SECRET, fake.response_url("b")))
            with SqlStore(db_url) as store:
                [request] = store.list(site=SITE)
            assert isinstance(found["final_wall"], float)
            found["run_end_to_final_message_s"] = found.pop("final_wall") - request.updated_at.timestamp()
            return found
        finally:
            stop_farm(sim)


def measure(args: argparse.Namespace, fake: FakeSlack, sender: SlackSender) -> dict[str, Any]:
    started = time.monotonic()
    assert sender.command(BOB, f"{SITE} --scope apppool").status == 200
    posted = fake.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"
                                               and c.body.get("channel") == CHANNEL), None), what="the message")
    ts = posted.answer["ts"]
    stop = threading.Event()
    acks: list[float] = []

    def one(index: int) -> None:
        if stop.is_set():
            return
        reply = sender.command(ALICE, MIX[index % len(MIX)], channel="C0OPS")
        assert reply.status == 200, reply.body
        acks.append(reply.seconds * 1000)

    with ThreadPoolExecutor(args.concurrency) as pool:
        for index in range(args.commands):
            pool.submit(one, index)
        final = fake.wait_for(lambda calls: next((c for c in calls if c.method == "chat.update"
                                                  and c.body.get("ts") == ts
                                                  and " is succeeded" in c.body.get("text", "")), None),
                              timeout=600, what="the final message")
        stop.set()
    ended = time.monotonic()
    calls = [c for c in fake.calls if started <= c.at <= final.at]
    minutes = (final.at - started) / 60
    per_method = Counter(c.method for c in calls if c.method != "respond")
    updates = sorted(c.at for c in calls if c.method == "chat.update" and c.body.get("ts") == ts)
    busiest = max((sum(1 for u in updates if t <= u < t + 1.0) for t in updates), default=0)
    return {
        "hosts": args.hosts, "wave": args.wave, "rollout_s": final.at - started,
        "per_minute": {m: n / minutes for m, n in sorted(per_method.items())},
        "counts": dict(sorted(per_method.items())),
        "rate_limited": sum(1 for c in calls if c.status == 429),
        "updates_on_message": len(updates), "max_updates_in_one_second": busiest,
        "final_wall": final.wall,
        "acks": len(acks), "ack_p50_ms": percentile(acks, 0.5) if acks else None,
        "ack_p99_ms": percentile(acks, 0.99) if acks else None, "ack_max_ms": max(acks, default=None),
        "wall_s": ended - started, "load": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--wave", type=int, default=50)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()
    found = run(args)
    for key, value in found.items():
        print(f"{key}: {value}", flush=True)
    if args.update_docs:
        write_section(START, END, section(args, found))
    return 0


def section(args: argparse.Namespace, found: dict[str, object]) -> str:
    per_minute = found["per_minute"]
    counts = found["counts"]
    assert isinstance(per_minute, dict) and isinstance(counts, dict)
    rows = "\n".join(f"| `{m}` | {counts[m]} | {rate:.1f} |" for m, rate in per_minute.items())
    p99 = found["ack_p99_ms"]
    return f"""{START}
## Slack: Web API pacing and acks during a {args.hosts}-host rollout

One signed `/recycle {SITE} --scope apppool` restarts {args.hosts} simulated hosts in waves of {args.wave}
(real WinRM, {args.latency_ms:.0f} ms per WinRM request, the farm in its own process); the bot is
`aspreset serve` as its own process on loopback, its WebClient pointed at the local fake Slack, which
counts every call. Meanwhile {found['acks']} signed commands (plan, help, sites) are sent {args.concurrency} at a time.

| Web API method | calls | per minute |
|---|---|---|
{rows}

- rollout, command to final message: {found['rollout_s']:.1f} s; 429 answers: {found['rate_limited']}
- `chat.update` on the request's one message: {found['updates_on_message']} in all, at most
  {found['max_updates_in_one_second']} in any one second (the limit is one a second)
- the run's end (recorded in the store) to the final message in Slack:
  {found['run_end_to_final_message_s']:.2f} s (goal: under 2 s)
- ack of the commands sent during the rollout: p50 {found['ack_p50_ms']:.1f} ms, p99 {p99:.1f} ms, max
  {found['ack_max_ms']:.1f} ms (goal: p99 under 100 ms); load average {found['load']:.1f} on
  {os.cpu_count()} CPUs shared with other work

Measured on Python {platform.python_version()}, {platform.system()} {platform.machine()}. Reproduce:
`.venv/bin/python bench/slack_rollout.py --hosts {args.hosts} --wave {args.wave} --commands {args.commands} \
--concurrency {args.concurrency} --latency-ms {args.latency_ms:.0f} --update-docs`.
{END}"""


if __name__ == "__main__":
    sys.exit(main())
