"""Ack latency of `/recycle` over HTTP on loopback while a farm restart runs.

The real thing end to end: `aspreset serve`'s ASGI app under uvicorn on 127.0.0.1, Slack-signed
slash commands over real HTTP, Bolt's signature check and lazy listeners, the WebClient pointed at
a local fake of Slack's Web API, and the simulated IIS farm (real WinRM) restarting shop-web's
pool over and over in the background (every WinRM request delayed by --latency-ms). Measured:
the time from sending a command to Slack's HTTP 200 (the ack), which Slack wants within 3000 ms.

    .venv/bin/python bench/slack_ack.py [--commands 200] [--concurrency 20] [--latency-ms 20] [--update-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "frontends" / "slack"))  # the fake Slack and the signed sender

import structlog  # noqa: E402
from docs_section import write_section  # noqa: E402  (bench/ is on sys.path when run as a script)
from fake_slack import FakeSlack  # noqa: E402
from slack_http import ALICE, BOB, SIGNING_SECRET, SlackSender, uvicorn_on_loopback  # noqa: E402

from bot.config import Settings, SlackSettings, WinRMSettings  # noqa: E402
from bot.serving import build_serving  # noqa: E402
from bot.sim.farm import Farm  # noqa: E402
from bot.sim.timing import SimTiming  # noqa: E402
from bot.winrm.executor import WinRMExecutor  # noqa: E402
from policies.files import load_inventory, load_policy  # noqa: E402

START, END = "<!-- slack-ack:start -->", "<!-- slack-ack:end -->"
EXAMPLES = ROOT / "examples"
# what people type while the restart runs: plans and status reads (the status reads do WinRM
# work after their ack, competing with the restart for the farm)
MIX = ("plan shop-web --reason hung", "status intranet", "plan intranet --reason gac", "help")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(commands: int, concurrency: int, latency_ms: float) -> dict[str, float]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake, Farm.from_inventory(
        load_inventory(EXAMPLES / "inventory.toml"), timing=SimTiming.fast()
    ) as farm:
        for sim in farm.hosts.values():
            sim.inject_latency(latency_ms / 1000)
        slack = SlackSettings(bot_token=fake.token, signing_secret=SIGNING_SECRET, api_base_url=fake.base_url)
        settings = Settings.of(load_policy(EXAMPLES / "policy.toml"), farm.client_inventory(), workdir=Path(tmp),
                               db_url=f"sqlite:///{tmp}/aspreset.db", winrm=WinRMSettings(command_timeout_s=60),
                               owner="bench", slack=slack)
        serving = build_serving(settings, executor=WinRMExecutor(max_parallel=8), work_threads=32)
        with uvicorn_on_loopback(serving.asgi) as url:
            sender = SlackSender(url, SIGNING_SECRET, fake.response_url("bench"))
            done = threading.Event()
            restarts = [0]

            def restart_loop() -> None:
                """shop-web's pool recycled again and again (bob: allowed without approval)."""
                while not done.is_set():
                    before = len(serving.service.store.list(site="shop-web"))
                    assert sender.command(BOB, "shop-web --scope apppool").status == 200
                    fake.wait_for(lambda _, n=before: _finished(serving, n), timeout=120, what="the restart to finish")
                    restarts[0] += 1

            background = threading.Thread(target=restart_loop, daemon=True)
            background.start()
            fake.wait_for(lambda _: serving.service.store.list(site="shop-web"), what="the first restart")

            def one(index: int) -> float:
                reply = sender.command(ALICE, MIX[index % len(MIX)])
                assert reply.status == 200, reply.body
                return reply.seconds * 1000

            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                times = list(pool.map(one, range(commands)))
            wall = time.perf_counter() - started
            running_during = restarts[0]
            done.set()
            background.join(180)
            serving.notifier.flush(30)
        serving.close()
    return {"p50": percentile(times, 0.50), "p99": percentile(times, 0.99), "max": max(times),
            "mean": statistics.fmean(times), "wall_s": wall, "restarts": running_during + 1}


def _finished(serving: object, before: int) -> bool:
    requests = serving.service.store.list(site="shop-web")  # type: ignore[attr-defined]
    return len(requests) > before and requests[0].state.value not in ("running", "approved")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()
    found = run(args.commands, args.concurrency, args.latency_ms)
    print(f"ack latency over {args.commands} commands, {args.concurrency} at a time: p50 {found['p50']:.1f} ms, "
          f"p99 {found['p99']:.1f} ms, max {found['max']:.1f} ms (mean {found['mean']:.1f}); "
          f"{found['wall_s']:.2f} s wall; pool restarts running meanwhile: {found['restarts']:.0f}")
    if args.update_docs:
        write_section(START, END, section(args, found))
    return 0


def section(args: argparse.Namespace, found: dict[str, float]) -> str:
    return f"""{START}
## Slack: ack latency of `/recycle`

Slack wants the HTTP answer to a slash command within 3000 ms; the goal is p99 under 100 ms.
Measured end to end on loopback: `aspreset serve`'s ASGI app under uvicorn, signed slash commands
over real HTTP, Bolt's signature check and lazy listeners (ack first, work after), the WebClient
pointed at a local fake of Slack's Web API, and the simulated farm (real WinRM, {args.latency_ms:.0f} ms
per WinRM request) recycling shop-web's pool over and over the whole time. The commands are a
mix of `plan`, `status` (WinRM reads after the ack) and `help`.

| commands | at a time | p50 | p99 | max | pool restarts meanwhile |
|---|---|---|---|---|---|
| {args.commands} | {args.concurrency} | {found['p50']:.1f} ms | {found['p99']:.1f} ms | {found['max']:.1f} ms \
| {found['restarts']:.0f} |

Measured on Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs
(shared). Reproduce: `.venv/bin/python bench/slack_ack.py --commands {args.commands} --concurrency
{args.concurrency} --latency-ms {args.latency_ms:.0f} --update-docs`.
{END}"""


if __name__ == "__main__":
    sys.exit(main())
