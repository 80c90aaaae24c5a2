"""`aspreset serve [--socket-mode] [--host 127.0.0.1] [--port 3000]`: the Slack front end, the
deploy webhook and /healthz in one ASGI app under uvicorn. With --socket-mode, Slack's events
come over a WebSocket the bot opens (no public URL); the HTTP app still serves the webhook.
SIGINT/SIGTERM stop taking requests, finish the restarts in flight, then exit.

Under this command three kinds of process run: this one (the front end: HTTP, Slack's signature
check and acks, /healthz, /metrics, the deploy webhook, MCP, the expiry sweeper, the health watch),
one Slack work process (`--slack-work`: the work after each Slack ack) and runner processes
(`--run-one`: one restart each), both started by it with the same files."""

from __future__ import annotations

import argparse
import gc
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType

from bot.app.errors import ConfigError
from bot.cli.exit_codes import EXIT_DONE
from bot.cli.runner import add_run_one, run_one, runner_argv
from bot.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket-mode", action="store_true",
                        help="take Slack's events over Socket Mode (SLACK_APP_TOKEN) instead of HTTP")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000; 0 picks a free one)")
    add_run_one(parser)  # each restart runs in a runner process of its own (bot/runner)
    # the work after each Slack ack runs in the Slack work process (bot/slack/work_process.py)
    parser.add_argument("--slack-work", action="store_true", help=argparse.SUPPRESS)


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    def settings() -> Settings:
        return load_settings(config=args.config, policy=args.policy, inventory=args.inventory, db=args.db)

    if args.run_one:
        return run_one(settings)
    if args.slack_work:
        return slack_work(settings(), runner_argv("serve", args))
    return serve(settings(), args.host, args.port, socket_mode=args.socket_mode,
                 runners=runner_argv("serve", args), slack_work=runner_argv("serve", args, "--slack-work"))


def serve(settings: Settings, host: str, port: int, *, socket_mode: bool = False,
          runners: Sequence[str] | None = None, slack_work: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM (also what `aspreset demo --slack` runs around its simulated farm).
    With `runners` (the command line of one), each restart runs in a runner process apart from this one (bot/runner):
    the acks and replies here never wait behind a rollout's host threads. With `slack_work` (the command
    line of the Slack work process), the work after each Slack ack runs there: this process only acks."""
    import uvicorn

    from bot.mcp.http import serve_app
    from bot.slack.serving import build_serving

    # MCP over HTTP at /mcp for the [mcp.clients] of the config (none: not served); its tools reach the
    # service built below, through the late-bound lambda
    mcp = serve_app(settings, lambda: serving.service, host=host)
    listener = _listen(host, port)  # before anything starts: a taken port fails fast
    serving = build_serving(settings, socket_mode=socket_mode, mcp=mcp,
                            mcp_lifespan=mcp.lifespan if mcp is not None else None, runners=runners,
                            slack_work=slack_work)
    try:
        if serving.socket_mode is not None:
            serving.socket_mode.connect()  # type: ignore[no-untyped-call]  # its own threads
        bound_host, bound_port = listener.getsockname()[:2]
        slack = "Slack over Socket Mode" if socket_mode else f"Slack at http://{bound_host}:{bound_port}/slack/events"
        served = f"{slack}, POST /hooks/deploy, GET /healthz, GET /metrics"
        served += ", MCP at /mcp" if mcp is not None else ""
        # what was built so far lives as long as serve: a full collection need not walk it again. Without
        # this, one gen-2 collection of the front end's ~160,000 objects held every ack in flight
        # 90-200 ms on the benchmark's machine; after, 1-6 ms (docs/benchmarks.md, Slack ack latency)
        gc.freeze()
        print(f"aspreset serve: listening on {bound_host}:{bound_port} ({served})", file=sys.stderr, flush=True)
        # log_config=None: uvicorn's records go to the root logger, JSON lines like the rest (bot/logs.py)
        server = uvicorn.Server(uvicorn.Config(serving.asgi, log_level="warning", lifespan="on", log_config=None))
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
        # it found: a quiet one here, so a stop after the work in flight finished exits 0
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _stopped)
        server.run(sockets=[listener])
    finally:
        serving.close()
        listener.close()
    return EXIT_DONE


def slack_work(settings: Settings, runners: Sequence[str]) -> int:
    """Be the Slack work process of the `aspreset serve` that started it (bot/slack/work_child.py)."""
    from bot.slack.serving import serve_slack_work

    return serve_slack_work(settings, runners)


def _stopped(signum: int, frame: FrameType | None) -> None:
    print(f"aspreset serve: stopped ({signal.Signals(signum).name}); work in flight finished", file=sys.stderr)


def _listen(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP; without it a reply
        # on a kept-alive connection waits ~40 ms for the client's delayed ACK
        listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
    except OSError as error:
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({error.strerror})") from None
    return listener
