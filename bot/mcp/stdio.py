"""The stdio entry point (`aspreset mcp`): the server for one assistant, and the runner each of its
restarts runs in (bot/mcp/runner.py). The CLI parses the arguments; this wires the core to them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import structlog

from bot.app.errors import AspresetError
from bot.app.service import Service
from bot.bootstrap import Runtime, build
from bot.config import Settings
from bot.mcp.follow import ANSWER_AFTER_S, RunnerCommand
from bot.mcp.runner import EventLines, run_one
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource, assistant, fixed

log = structlog.get_logger("aspreset.mcp")


def serve_stdio(principal_name: str, settings: Callable[[], Settings], runner_argv: Sequence[str],
                answer_after_s: float | None) -> int:
    """Serve MCP on stdin/stdout until the client closes it. The process always starts: if the
    files or the store cannot be read, every tool fails closed until they can."""
    principal = assistant(principal_name)  # a bad name is bad input: ConfigError before serving
    built: list[Runtime] = []  # the one build that succeeded (a failed one closed what it opened)

    def service() -> Service:
        built.append(build(settings()))
        return built[-1].service

    source = ServiceSource(service)
    try:
        try:
            source.get()
        except AspresetError as error:
            print(f"aspreset mcp: every tool fails closed until this is fixed: {error}", file=sys.stderr, flush=True)
        runner = RunnerCommand(argv=runner_argv, answer_after_s=answer_after_s or ANSWER_AFTER_S)
        server = build_server(source, fixed(principal), runner=runner)
        log.info("mcp_stdio_serving", principal=principal.id)
        server.run("stdio")
    finally:
        for runtime in built:
            runtime.close()
    return 0


def run_runner(settings: Callable[[], Settings]) -> int:
    """`aspreset mcp --run-one`: one restart, from the arguments on stdin, to the end."""
    built: list[Runtime] = []

    def service(lines: EventLines) -> Service:
        built.append(build(settings(), notifier=lines))
        return built[-1].service

    try:
        return run_one(service)
    finally:
        for runtime in built:
            runtime.close()
