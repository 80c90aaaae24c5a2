"""What MCP adds to a call: the same tool calls made straight on the Service and through the SDK's
own client in memory, over a real `aspreset mcp` stdio subprocess, and over streamable HTTP under
uvicorn on 127.0.0.1 with a bearer token. Everything is real against `bot.sim` (WinRM over
loopback, SQLite in a temporary directory); no latency is injected. Over stdio each restart runs
in a runner process of its own (bot/runner), one kept warm (imported, waiting for its job), so its
row includes handing the job over, or starting the process when no warm one is ready yet. Restarts
are `--pause-s` apart (an assistant's restarts come seconds to minutes apart; 0: back to back, when
the next warm runner is still importing).

    .venv/bin/python bench/mcp_calls.py [--plans 50] [--restarts 10] [--pause-s 2] [--update-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx2
import structlog
import uvicorn
from docs_section import DOCS, write_section  # bench/ is on sys.path when run as a script
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from bot.app.service import Service
from bot.bootstrap import build
from bot.config import McpClient, McpSettings, Settings
from bot.mcp.http import mcp_http_app
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource, assistant, fixed
from bot.sim.cli import inventory_toml
from bot.sim.farm import Farm
from bot.sim.timing import SimTiming
from commands.model import RestartRequest
from policies.files import load_inventory, load_policy

START, END = "<!-- mcp-calls:start -->", "<!-- mcp-calls:end -->"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PLAN = {"site": "shop-web", "changed_files": ["App_Config/connectionStrings.config"]}
RESTART = {**PLAN, "reason": "config", "note": "benchmark"}
TOKEN = "bench-token-" + "x" * 24
# The demo policy without the assistant's rate limit (3 restarts of a site in 10 minutes): the bench
# restarts shop-web more often than that on purpose.
BENCH_LIMITS = "[limits]\nassistant_requests_per_site = 1000\n"


def bench_policy(work: Path) -> Path:
    text = (EXAMPLES / "policy.toml").read_text()
    assert "[limits]\n" in text
    path = work / "policy.toml"
    path.write_text(text.replace("[limits]\n", BENCH_LIMITS, 1))
    return path


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms ({min(samples) * 1000:.1f}-{max(samples) * 1000:.1f})"


async def _timed(call: Callable[[], Awaitable[object]], runs: int, pause_s: float = 0.0) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
        await anyio.sleep(pause_s)  # not timed: the time between an assistant's calls
    return samples


async def _through(client: Client, plans: int, restarts: int, pause_s: float = 0.0
                   ) -> tuple[list[float], list[float]]:
    async def plan() -> None:
        result = await client.call_tool("plan_restart", PLAN)
        assert not result.is_error and result.structured_content["rung"] == "appdomain"

    async def restart() -> None:
        result = await client.call_tool("request_restart", RESTART)
        assert not result.is_error and result.structured_content["state"] == "succeeded", result.content

    return await _timed(plan, plans), await _timed(restart, restarts, pause_s)


def _direct(service: Service, plans: int, restarts: int) -> tuple[list[float], list[float]]:
    who = assistant("assistant")
    command = RestartRequest.from_arguments("shop-web", reason="config", changed=PLAN["changed_files"])
    plan_samples, restart_samples = [], []
    for _ in range(plans):
        started = time.perf_counter()
        service.plan(command, who)
        plan_samples.append(time.perf_counter() - started)
    for _ in range(restarts):
        started = time.perf_counter()
        assert service.request(command, who, who.id).state == "succeeded"
        restart_samples.append(time.perf_counter() - started)
    return plan_samples, restart_samples


def run(plans: int, restarts: int, pause_s: float = 0.0) -> list[tuple[str, list[float], list[float], float | None]]:
    rows: list[tuple[str, list[float], list[float], float | None]] = []
    with tempfile.TemporaryDirectory() as tmp, Farm.from_inventory(
        load_inventory(EXAMPLES / "inventory.toml"), timing=SimTiming.fast()
    ) as farm:
        work = Path(tmp)
        db = f"sqlite:///{work / 'bench.db'}"
        inventory = farm.client_inventory()
        policy = bench_policy(work)
        runtime = build(Settings.of(load_policy(policy), inventory, workdir=work, db_url=db))
        service = runtime.service
        rows.append(("Service, no MCP", *_direct(service, plans, restarts), None))

        server = build_server(ServiceSource.of(service), fixed(assistant("assistant")))

        async def in_memory() -> tuple[list[float], list[float]]:
            async with Client(server) as client:
                return await _through(client, plans, restarts)

        rows.append(("MCP in memory", *anyio.run(in_memory), None))

        farm_file = work / "farm.toml"
        farm_file.write_text(inventory_toml(inventory))
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "bot.cli", "mcp", "--policy", str(policy), "--inventory", str(farm_file), "--db", db],
            env={"ASPRESET_CONFIG": "", "PYTHONPATH": os.pathsep.join(sys.path)},
            cwd=tmp,
        )

        async def stdio() -> tuple[list[float], list[float], float]:
            started = time.perf_counter()
            async with Client(params) as client:
                await client.list_tools()
                first = time.perf_counter() - started
                plan_samples, restart_samples = await _through(client, plans, restarts, pause_s)
            return plan_samples, restart_samples, first

        rows.append(("MCP over stdio (`aspreset mcp`)", *anyio.run(stdio)))

        # the HTTP server runs in its own process, as `aspreset serve` does
        server_process = subprocess.Popen(
            [sys.executable, __file__, "--serve-http", str(farm_file), db],
            stdout=subprocess.PIPE, env={**os.environ, "T": TOKEN, "ASPRESET_CONFIG": ""}, cwd=tmp,
        )
        assert server_process.stdout is not None
        url = server_process.stdout.readline().decode().strip()  # the child prints its URL once it listens

        async def http() -> tuple[list[float], list[float]]:
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
            async with Client(streamable_http_client(url, http_client=http)) as c:
                return await _through(c, plans, restarts)

        try:
            rows.append(("MCP over streamable HTTP (uvicorn, bearer token)", *anyio.run(http), None))
        finally:
            server_process.terminate()
            server_process.wait(timeout=15)
        runtime.close()
    return rows


def serve_http(farm_file: str, db: str) -> None:
    """The child of the HTTP measurement: the MCP endpoint under uvicorn on 127.0.0.1."""
    inventory = load_inventory(farm_file)
    settings = Settings.of(load_policy(bench_policy(Path.cwd())), inventory, workdir=Path.cwd(), db_url=db)
    service = build(settings).service
    app = mcp_http_app(ServiceSource.of(service), McpSettings(clients={"assistant": McpClient(token_env="T")}),
                       os.environ)
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it every call on a kept-alive connection waits ~40 ms for a delayed ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def report(rows: list[tuple[str, list[float], list[float], float | None]], plans: int, restarts: int) -> str:
    lines = [
        f"| path | plan_restart, median of {plans} (min-max) | appdomain restart on 2 hosts, median of {restarts} |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {_ms(p)} | {_ms(r)} |" for name, p, r, _ in rows]
    firsts = [first for *_, first in rows if first is not None]
    if firsts:
        lines.append("")
        lines.append(f"`aspreset mcp` from spawn to its tool list: {firsts[0] * 1000:.0f} ms.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=50)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--pause-s", type=float, default=2.0, help="seconds between two restarts (not timed)")
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite this benchmark's section of {DOCS}")
    parser.add_argument("--serve-http", nargs=2, metavar=("FARM", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    if args.serve_http:
        serve_http(*args.serve_http)
        return
    text = report(run(args.plans, args.restarts, args.pause_s), args.plans, args.restarts)
    print(text)
    if args.update_docs:
        machine = f"Python {platform.python_version()}, {platform.platform()}, nproc {os.cpu_count()}"
        section = "\n".join([
            START,
            "## What MCP adds to a call",
            "",
            "The same calls made straight on the Service and through the MCP SDK's own client (in memory,",
            "over a real `aspreset mcp` subprocess, over streamable HTTP under uvicorn with a bearer token),",
            "against the simulated farm (`bot/sim`: real WinRM on 127.0.0.1, no injected latency,",
            "`SimTiming.fast()`) and SQLite. `plan_restart` plans the connection-string change (no WinRM);",
            "the restart is the appdomain restart it plans, run on web01 and web02 and recorded; every",
            "restart must succeed. The HTTP server runs in its own process, as `aspreset serve` does.",
            f"Over stdio the restarts are {args.pause_s:g} s apart (untimed), so the runner kept warm for the",
            "next one has its modules imported when it comes.",
            "",
            "Its listening socket must be made as `IPPROTO_TCP`: asyncio sets TCP_NODELAY only on sockets",
            "that say TCP, and with Nagle left on every reply on a kept-alive connection waited for the",
            "client's delayed ACK. Measured on `aspreset serve` itself (one connection, `tools/call",
            "list_sites`): 44 ms per call with a plain `socket.socket(AF_INET, SOCK_STREAM)`, 2.5 ms with",
            "`IPPROTO_TCP` (the fix in bot/cli/serve.py; Slack's requests gain the same).",
            "",
            text,
            "",
            f"Measured on {machine}. Reproduce: `.venv/bin/python bench/mcp_calls.py --plans {args.plans} "
            f"--restarts {args.restarts} --pause-s {args.pause_s:g} --update-docs`.",
            END,
        ])
        write_section(START, END, section)


if __name__ == "__main__":
    main()
