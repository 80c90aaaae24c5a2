"""Ack latency of `/recycle` over HTTP on loopback while a farm restart runs.

The real thing end to end: `aspreset serve` as its own process on 127.0.0.1 (its front end, its
Slack work process and its runners), Slack-signed slash commands over real HTTP, Bolt's signature
check and lazy listeners, the WebClients pointed at
a local fake of Slack's Web API, and the simulated IIS farm (real WinRM) restarting shop-web's
pool over and over in the background (every WinRM request delayed by --latency-ms). With
`--rollout-hosts N`, the restart in the background is a rollout of N hosts instead (farm-web, a
farm of its own in its own process, waves of 50), again and again, while the same commands for the
demo team's sites are measured. Measured: the time from sending a command to Slack's HTTP 200
(the ack), which Slack wants within 3000 ms.

    .venv/bin/python bench/slack_ack.py [--commands 200] [--concurrency 20] [--latency-ms 20] [--runs 3]
        [--rollout-hosts 50] [--update-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "frontends" / "slack"))  # the fake Slack and the signed sender

import structlog  # noqa: E402
from docs_section import write_section  # noqa: E402  (bench/ is on sys.path when run as a script)
from fake_slack import Call, FakeSlack  # noqa: E402
from run import start_farm, stop_farm  # noqa: E402
from slack_http import ALICE, BOB, SIGNING_SECRET, SlackSender, get  # noqa: E402

from bot.sim.cli import inventory_toml  # noqa: E402
from bot.sim.process import SimProcess  # noqa: E402
from policies.files import load_inventory  # noqa: E402

START, END = "<!-- slack-ack:start -->", "<!-- slack-ack:end -->"
EXAMPLES = ROOT / "examples"
# what people type while the restart runs: plans and status reads (the status reads do WinRM
# work after their ack, competing with the restart for the farm)
MIX = ("plan shop-web --reason hung", "status intranet", "plan intranet --reason gac", "help")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


FINISHED = re.compile(r"apppool restart (r-\w+) is (succeeded|failed|partly failed)")


def finished_restarts(calls: list[Call], outcome: str | None = None) -> set[str]:
    return {m.group(1) for c in calls if c.method in ("chat.update", "chat.postMessage")
            for m in [FINISHED.search(c.body.get("text", ""))] if m and outcome in (None, m.group(2))}


@contextmanager
def serve_process(fake: FakeSlack, config: Path, workdir: Path, db_url: str) -> Iterator[str]:
    """`aspreset serve --port 0 --config CONFIG` as its own process (as it runs in production);
    yields its URL."""
    env = dict(os.environ, SLACK_BOT_TOKEN=fake.token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_BASE_URL=fake.base_url)
    env.pop("ASPRESET_CONFIG", None)
    serve = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--config", str(config), "--db", db_url],
        cwd=workdir, env=env, stderr=subprocess.PIPE)
    try:
        seen = b""
        assert serve.stderr is not None
        with selectors.DefaultSelector() as selector:
            selector.register(serve.stderr, selectors.EVENT_READ)
            while not (found := re.search(rb"listening on 127\.0\.0\.1:(\d+) ", seen)):
                assert selector.select(timeout=60), f"serve did not start: {seen.decode(errors='replace')}"
                chunk = os.read(serve.stderr.fileno(), 65536)
                assert chunk, f"serve exited: {seen.decode(errors='replace')}"
                seen += chunk
        yield f"http://127.0.0.1:{int(found.group(1))}"
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(120)
        if serve.stderr:
            serve.stderr.close()


def rollout_config(workdir: Path, demo: Path, hosts: int, latency_ms: float) -> tuple[Path, subprocess.Popen[bytes]]:
    """The demo team's sites plus farm-web, `hosts` hosts in a farm of their own (started here), and
    a policy that rolls it out in waves of 50: the config file, and the farm's process."""
    sim, client = start_farm(hosts, workdir, argparse.Namespace(latency_ms=latency_ms, recycle_s=0.25,
                                                                cold_start_s=0.05))
    team, farm = load_inventory(demo), load_inventory(client)
    both = team.model_copy(update={"hosts": {**team.hosts, **farm.hosts}, "sites": {**team.sites, **farm.sites}})
    (workdir / "both.toml").write_text(inventory_toml(both), encoding="utf-8")
    policy = (EXAMPLES / "policy.toml").read_text(encoding="utf-8") + "\n[environments.bench]\nmax_parallel = 50\n"
    (workdir / "policy.toml").write_text(policy, encoding="utf-8")
    config = workdir / "aspreset.toml"
    config.write_text('policy = "policy.toml"\ninventory = "both.toml"\n\n[winrm]\nmax_parallel = 50\n'
                      "command_timeout_s = 60\n", encoding="utf-8")
    return config, sim


def run(commands: int, concurrency: int, latency_ms: float, rollout_hosts: int = 0) -> dict[str, float]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    # the farm in its own process too, so that this process holds only the client and the fake Slack
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake, SimProcess(
        EXAMPLES / "inventory.toml", Path(tmp), "--latency-ms", f"{latency_ms:g}", "--recycle-s", "0.25",
        "--cold-start-s", "0.05",
    ) as farm, ExitStack() as stack:
        farm.wait_ready()
        config = Path(tmp) / "aspreset.toml"
        config.write_text(f'policy = "{EXAMPLES / "policy.toml"}"\ninventory = "{farm.inventory_out}"\n',
                          encoding="utf-8")
        background = "shop-web --scope apppool"
        if rollout_hosts:
            config, sim = rollout_config(Path(tmp), farm.inventory_out, rollout_hosts, latency_ms)
            stack.callback(stop_farm, sim)
            background = "farm-web --scope apppool"
        with serve_process(fake, config, Path(tmp), f"sqlite:///{Path(tmp) / 'aspreset.db'}") as url:
            sender = SlackSender(url, SIGNING_SECRET, fake.response_url("bench"))
            done = threading.Event()

            def restart_loop() -> None:
                """shop-web's (or farm-web's) pool recycled again and again (bob: allowed without approval)."""
                while not done.is_set():
                    before = len(finished_restarts(fake.calls))
                    assert sender.command(BOB, background).status == 200
                    fake.wait_for(lambda calls, n=before: len(finished_restarts(calls)) > n, timeout=120,
                                  what="the restart to finish")

            looping = threading.Thread(target=restart_loop, daemon=True)
            looping.start()
            fake.wait_for(lambda calls: any(c.method == "chat.postMessage" for c in calls), what="the first restart")

            def one(index: int) -> float:
                reply = sender.command(ALICE, MIX[index % len(MIX)])
                assert reply.status == 200, reply.body
                return reply.seconds * 1000

            restarts_before = len(finished_restarts(fake.calls))
            began = time.monotonic()  # the fake Slack's clock
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                times = list(pool.map(one, range(commands)))
            wall = time.perf_counter() - started
            # the floor: the same clients asking serve for /healthz (no Slack, no Bolt), the work after
            # the acks above still going on in the Slack work process, the rollout still running
            with ThreadPoolExecutor(concurrency) as pool:
                floor = list(pool.map(lambda _: get(f"{url}/healthz").seconds * 1000, range(commands)))
            # the work after the acks: every command's reply through its response_url (the background
            # restarts' replies come on top, so this is when at least as many have come)
            replied = fake.wait_for(lambda calls: [c.at for c in calls if c.method == "respond" and c.at >= began]
                                    [commands - 1:commands], timeout=300, what="every command's reply")[0]
            done.set()
            looping.join(600)
            restarts = len(finished_restarts(fake.calls)) - restarts_before
            not_succeeded = finished_restarts(fake.calls) - finished_restarts(fake.calls, "succeeded")
            if not_succeeded:  # a failed rollout does less work: not what is measured
                raise SystemExit(f"a background restart did not succeed: {sorted(not_succeeded)}")
    return {"p50": percentile(times, 0.50), "p99": percentile(times, 0.99), "max": max(times),
            "mean": statistics.fmean(times), "wall_s": wall, "restarts": restarts,
            "healthz_p50": percentile(floor, 0.50), "healthz_p99": percentile(floor, 0.99),
            "replies_s": replied - began}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3, help="repeat it; each run is a fresh bot and farm")
    parser.add_argument("--rollout-hosts", type=int, default=0,
                        help="in the background, roll out a site of this many hosts (waves of 50) instead of "
                             "shop-web's two")
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        found = run(args.commands, args.concurrency, args.latency_ms, args.rollout_hosts)
        found["load"] = os.getloadavg()[0]
        runs.append(found)
        print(f"ack latency over {args.commands} commands, {args.concurrency} at a time: p50 {found['p50']:.1f} ms, "
              f"p99 {found['p99']:.1f} ms, max {found['max']:.1f} ms (mean {found['mean']:.1f}); "
              f"{found['wall_s']:.2f} s wall; pool restarts finished meanwhile: {found['restarts']:.0f}; "
              f"/healthz from the same clients: p50 {found['healthz_p50']:.1f} ms, p99 {found['healthz_p99']:.1f} ms; "
              f"{args.commands} replies within {found['replies_s']:.1f} s; "
              f"load average {found['load']:.1f}", flush=True)
    if args.update_docs:
        write_section(START, END, section(args, runs))
    return 0


def section(args: argparse.Namespace, runs: list[dict[str, float]]) -> str:
    rows = "\n".join(
        f"| {i + 1} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.1f} ms | {r['healthz_p50']:.1f} / "
        f"{r['healthz_p99']:.1f} ms | {r['replies_s']:.1f} s | {r['restarts']:.0f} | {r['load']:.1f} |"
        for i, r in enumerate(runs))
    p99s = sorted(r["p99"] for r in runs)
    background = (f"farm-web ({args.rollout_hosts} hosts, a farm of its own in its own process, waves of 50) rolled "
                  f"out over and over" if args.rollout_hosts else "shop-web's pool recycled over and over")
    rollout = f" --rollout-hosts {args.rollout_hosts}" if args.rollout_hosts else ""
    return f"""{START}
## Slack: ack latency of `/recycle`

Slack wants the HTTP answer to a slash command within 3000 ms; the goal is p99 under 100 ms.
Measured end to end on loopback: `aspreset serve` as its own process (uvicorn, Bolt's Starlette
adapter), Slack-signed slash commands over real HTTP, Bolt's signature check and the ack functions
in serve's front end, the work after each ack in its Slack work process (`serve --slack-work`: parse,
plan, status reads over WinRM, replies through `response_url`), the restarts in runner processes,
every WebClient pointed at a local fake of Slack's Web API, and the simulated farm (real WinRM,
{args.latency_ms:.0f} ms per WinRM request) with {background} the whole time. {args.commands} commands,
{args.concurrency} in flight at a time (closed loop), a mix of `plan`, `status` and `help` for the demo
team's sites. The farms run in their own processes (`aspreset sim`); the clients and the fake Slack
share the benchmark's own process. Each run is a fresh bot and farm. The /healthz column is the
floor: the same clients asking the front end for /healthz right after (no Bolt, no Slack), while
the work after the acks and the rollout go on. "All replies in": from the first command to the
time the fake Slack had as many replies through `response_url` as there were commands (the work
after the acks, done by the Slack work process).

| run | p50 | p99 | max | /healthz p50 / p99 | all replies in | restarts finished meanwhile | load average (1 min) |
|---|---|---|---|---|---|---|---|
{rows}

Median p99 over the runs: {statistics.median(p99s):.1f} ms. The machine has {os.cpu_count()} CPUs shared with
other work (the load average column). Measured on Python {platform.python_version()}, \
{platform.system()} {platform.machine()}.
Reproduce: `.venv/bin/python bench/slack_ack.py --commands {args.commands} --concurrency {args.concurrency} \
--latency-ms {args.latency_ms:.0f} --runs {len(runs)}{rollout} --update-docs`.
{END}"""


if __name__ == "__main__":
    sys.exit(main())
