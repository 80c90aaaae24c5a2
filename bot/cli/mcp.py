"""`aspreset mcp`: serve MCP over stdio for one AI assistant, acting as `mcp:NAME`.

An MCP client (Claude Desktop, VS Code, ...) starts this command and speaks MCP on its stdin and
stdout; logs go to stderr. The process always starts: if the policy, inventory or store cannot be
read, it says so on stderr and every tool fails closed until they can (docs/mcp.md)."""

from __future__ import annotations

import argparse
import sys

import structlog

from bot.config import load_settings

HELP = "serve MCP over stdio for an AI assistant (it can request restarts, never approve)"
DEFAULT_PRINCIPAL = "assistant"

log = structlog.get_logger("aspreset.mcp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--principal", default=DEFAULT_PRINCIPAL, metavar="NAME",
        help=f"act as mcp:NAME, whom the policy's rules name (default: {DEFAULT_PRINCIPAL})",
    )


def cmd_mcp(args: argparse.Namespace) -> int:
    from bot.app.errors import AspresetError
    from bot.app.service import Service
    from bot.bootstrap import Runtime, build
    from bot.mcp.server import build_server
    from bot.mcp.services import ServiceSource, assistant, fixed

    principal = assistant(args.principal)  # a bad name is bad input: exit 2 before serving
    built: list[Runtime] = []  # the one build that succeeded (a failed one closed what it opened)

    def service() -> Service:
        built.append(build(load_settings(config=args.config, policy=args.policy, inventory=args.inventory,
                                         db=args.db)))
        return built[-1].service

    source = ServiceSource(service)
    try:
        try:
            source.get()
        except AspresetError as error:
            print(f"aspreset mcp: every tool fails closed until this is fixed: {error}", file=sys.stderr, flush=True)
        server = build_server(source, fixed(principal))
        log.info("mcp_stdio_serving", principal=principal.id)
        server.run("stdio")
    finally:
        for runtime in built:
            runtime.close()
    return 0
