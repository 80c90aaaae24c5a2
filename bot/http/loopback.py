"""An ASGI app served by uvicorn on 127.0.0.1 in a background thread, for the demo's deploy webhook
(and anything else that needs the real HTTP endpoint inside one process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

START_DEADLINE_S = 20.0


@contextmanager
def serve_on_loopback(app: ASGIApp) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 at a free port; yields its base URL; stops it after, running the app's
    shutdown."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="loopback-http", daemon=True)  # stops on should_exit
    thread.start()
    deadline = time.monotonic() + START_DEADLINE_S
    while not server.started:  # uvicorn offers no event to wait on: its flag flips once bound
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the local HTTP server did not start")
        thread.join(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
