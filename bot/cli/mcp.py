"""`aspreset mcp`: serve MCP over stdio for one AI assistant, acting as `mcp:NAME`.

An MCP client (Claude Desktop, VS Code, ...) starts this command and speaks MCP on its stdin and
stdout; logs go to stderr. The process always starts: if the policy, inventory or store cannot be
read, it says so on stderr and every tool fails closed until they can (docs/mcp.md).

Each restart runs in a runner of its own (`--run-one`, started by the server in a new session), so
the client stopping this process (it closes stdin, then signals the process group) never stops a
restart half-way; the runner records it to the end (bot/mcp/runner.py)."""

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
    parser.add_argument(
        "--answer-after", type=_seconds, default=None, metavar="SECONDS",
        help="answer a restart still running after this long with its state so far; it goes on (default: 25)",
    )
    parser.add_argument("--run-one", action="store_true", help=argparse.SUPPRESS)  # the runner, see above


def cmd_mcp(args: argparse.Namespace) -> int:
    from bot.app.errors import AspresetError
    from bot.app.service import Service
    from bot.bootstrap import Runtime, build
    from bot.mcp.follow import ANSWER_AFTER_S, RunnerCommand
    from bot.mcp.reload import PolicyFiles
    from bot.mcp.server import build_server
    from bot.mcp.services import ServiceSource, assistant, fixed

    if args.run_one:
        return _run_one(args)
    principal = assistant(args.principal)  # a bad name is bad input: exit 2 before serving
    built: list[Runtime] = []  # the one build that succeeded (a failed one closed what it opened)
    files: list[PolicyFiles] = []

    def service() -> Service:
        settings = _settings(args)
        built.append(build(settings))
        files.append(PolicyFiles(settings))
        return built[-1].service

    def refresh(service: Service) -> None:
        if files:
            files[-1].refresh(service)

    source = ServiceSource(service, refresh=refresh)
    try:
        try:
            source.get()
        except AspresetError as error:
            print(f"aspreset mcp: every tool fails closed until this is fixed: {error}", file=sys.stderr, flush=True)
        runner = RunnerCommand(argv=_runner_argv(args), answer_after_s=args.answer_after or ANSWER_AFTER_S)
        server = build_server(source, fixed(principal), runner=runner)
        log.info("mcp_stdio_serving", principal=principal.id)
        server.run("stdio")
    finally:
        for runtime in built:
            runtime.close()
    return 0


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    return load_settings(config=args.config, policy=args.policy, inventory=args.inventory, db=args.db)


def _runner_argv(args: argparse.Namespace) -> list[str]:
    """This command again, as the runner, with the same files (the environment is inherited)."""
    argv = [sys.executable, "-m", "bot.cli", "mcp", "--run-one"]
    for option in ("config", "policy", "inventory", "db"):
        value = getattr(args, option, None)
        if value:
            argv += [f"--{option}", value]
    return argv


def _run_one(args: argparse.Namespace) -> int:
    from bot.app.service import Service
    from bot.bootstrap import Runtime, build
    from bot.mcp.runner import EventLines, run_one

    built: list[Runtime] = []

    def service(lines: EventLines) -> Service:
        built.append(build(_settings(args), notifier=lines))
        return built[-1].service

    try:
        return run_one(service)
    finally:
        for runtime in built:
            runtime.close()


def _seconds(text: str) -> float:
    value = float(text)
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"--answer-after {text}: give seconds between 1 and 3600")
    return value
