"""The stdio entry point (`aspreset mcp`): the server for one assistant, whose restarts each run in a
runner process of its own (bot/runner), so the client stopping the server never stops one half-way.
The CLI parses the arguments; this wires the core to them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import structlog

from bot.app.errors import AspresetError
from bot.app.service import Service
from bot.bootstrap import Runtime, build
from bot.config import Settings
from bot.mcp.follow import ANSWER_AFTER_S, CallEvents
from bot.mcp.server import build_server
from bot.mcp.services import ServiceSource, assistant, fixed
from bot.runner.processes import ProcessRuns

log = structlog.get_logger("aspreset.mcp")


def serve_stdio(principal_name: str, settings: Callable[[], Settings], runner_argv: Sequence[str],
                answer_after_s: float | None) -> int:
    """Serve MCP on stdin/stdout until the client closes it. The process always starts: if the
    files or the store cannot be read, every tool fails closed until they can."""
    principal = assistant(principal_name)  # a bad name is bad input: ConfigError before serving
    built: list[Runtime] = []  # the one build that succeeded (a failed one closed what it opened)

    runs = ProcessRuns(runner_argv)

    def service() -> Service:
        built.append(build(settings(), notifier=CallEvents(), runs=runs))
        return built[-1].service

    source = ServiceSource(service)
    try:
        try:
            source.get()
        except AspresetError as error:
            print(f"aspreset mcp: every tool fails closed until this is fixed: {error}", file=sys.stderr, flush=True)
        server = build_server(source, fixed(principal), answer_after_s=answer_after_s or ANSWER_AFTER_S)
        log.info("mcp_stdio_serving", principal=principal.id)
        server.run("stdio")
    finally:
        for runtime in built:
            runtime.close()
        runs.close()
    return 0
