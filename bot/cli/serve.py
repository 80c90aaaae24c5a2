"""`aspreset serve [--socket-mode] [--host 127.0.0.1] [--port 3000]`: the Slack front end, the
deploy webhook and /healthz in one ASGI app under uvicorn. With --socket-mode, Slack's events
come over a WebSocket the bot opens (no public URL); the HTTP app still serves the webhook.
SIGINT/SIGTERM stop taking requests, finish the restarts in flight, then exit."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from types import FrameType

from bot.app.errors import ConfigError
from bot.cli.exit_codes import EXIT_DONE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket-mode", action="store_true",
                        help="take Slack's events over Socket Mode (SLACK_APP_TOKEN) instead of HTTP")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000; 0 picks a free one)")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.config import load_settings
    from bot.serving import build_serving

    settings = load_settings(config=args.config, policy=args.policy, inventory=args.inventory, db=args.db)
    listener = _listen(args.host, args.port)  # before anything starts: a taken port fails fast
    # MOUNT POINT for MCP over HTTP: pass bot.mcp's streamable-HTTP ASGI app as `mcp=` (and its
    # session manager's `run` as build_serving's `mcp_lifespan`); it is served at /mcp.
    serving = build_serving(settings, socket_mode=args.socket_mode)
    try:
        if serving.socket_mode is not None:
            serving.socket_mode.connect()  # type: ignore[no-untyped-call]  # its own threads
        host, port = listener.getsockname()[:2]
        slack = "Slack over Socket Mode" if args.socket_mode else f"Slack at http://{host}:{port}/slack/events"
        print(f"aspreset serve: listening on {host}:{port} ({slack}, POST /hooks/deploy, GET /healthz)",
              file=sys.stderr, flush=True)
        server = uvicorn.Server(uvicorn.Config(serving.asgi, log_level="warning", lifespan="on"))
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
        # it found: a quiet one here, so a stop after the work in flight finished exits 0
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _stopped)
        server.run(sockets=[listener])
    finally:
        serving.close()
        listener.close()
    return EXIT_DONE


def _stopped(signum: int, frame: FrameType | None) -> None:
    print(f"aspreset serve: stopped ({signal.Signals(signum).name}); work in flight finished", file=sys.stderr)


def _listen(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
    except OSError as error:
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({error.strerror})") from None
    return listener
