"""A threaded stdlib HTTP server bound to 127.0.0.1 only, run in a background thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: Any = None  # the object the handler serves (a WS-Management endpoint or an IIS server)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (timeouts, injected drops) is normal here: no traceback spam.
        pass


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], owner: Any, port: int = 0) -> None:
        self._server = QuietServer((LOOPBACK, port), handler, bind_and_activate=True)
        self._server.owner = owner
        self._thread: threading.Thread | None = None
        self._stopper: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()

    def begin_stop(self) -> None:
        """Ask the serving thread to stop without waiting (stopping many servers at once)."""
        if self._thread is not None and self._stopper is None:
            self._stopper = threading.Thread(target=self._server.shutdown, daemon=True)
            self._stopper.start()

    def stop(self) -> None:
        self.begin_stop()
        if self._stopper is not None:
            self._stopper.join(timeout=5)
            self._stopper = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
