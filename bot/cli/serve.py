"""`aspreset serve [--socket-mode] [--host 127.0.0.1] [--port 3000]`: the Slack front end, the
deploy webhook and /healthz in one ASGI app under uvicorn. With --socket-mode, Slack's events
come over a WebSocket the bot opens (no public URL); the HTTP app still serves the webhook.
SIGINT/SIGTERM stop taking requests, finish the restarts in flight, then exit."""

from __future__ import annotations

import argparse
import sys

import structlog

from bot.cli.exit_codes import EXIT_DONE

log = structlog.get_logger("aspreset.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket-mode", action="store_true",
                        help="take Slack's events over Socket Mode (SLACK_APP_TOKEN) instead of HTTP")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.config import load_settings
    from bot.serving import build_serving

    settings = load_settings(config=args.config, policy=args.policy, inventory=args.inventory, db=args.db)
    # MOUNT POINT for MCP over HTTP: pass bot.mcp's streamable-HTTP ASGI app as `mcp=` (served at /mcp).
    serving = build_serving(settings, socket_mode=args.socket_mode)
    if serving.socket_mode is not None:
        serving.socket_mode.connect()  # type: ignore[no-untyped-call]  # its own threads; returns once connected
    where = "Socket Mode" if args.socket_mode else f"http://{args.host}:{args.port}/slack/events"
    print(f"aspreset serving Slack ({where}), POST /hooks/deploy, GET /healthz on {args.host}:{args.port}",
          file=sys.stderr, flush=True)
    try:
        uvicorn.run(serving.asgi, host=args.host, port=args.port, log_level="warning", lifespan="on")
    finally:
        serving.close()
    return EXIT_DONE
