"""Threaded stdlib HTTP servers bound to 127.0.0.1 only. One acceptor thread per process waits on
every listening socket at once; each connection is then served on its own thread. A farm of 200
hosts listens on 400 sockets: a `serve_forever` thread each, waking every 50 ms to poll, spent a
fifth of a core doing nothing, on the core the bot under test shares."""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: Any = None  # the object the handler serves (a WS-Management endpoint or an IIS server)
    tls: ssl.SSLContext | None = None  # https: the handshake runs on the connection's own thread

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            request.settimeout(10)  # a client that never finishes its handshake holds only its thread, briefly
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (timeouts, injected drops) is normal here: no traceback spam.
        pass


class _Acceptor:
    """One selector over the listening sockets of every started server; new connections are
    handed to their server, which starts the connection's thread."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._thread: threading.Thread | None = None

    def add(self, server: QuietServer) -> None:
        server.socket.setblocking(False)  # a connection reset before accept() must not block the loop
        with self._lock:
            self._selector.register(server.socket, selectors.EVENT_READ, server)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="sim-acceptor", daemon=True)
                self._thread.start()
        self._wake()

    def remove(self, server: QuietServer) -> None:
        with self._lock, contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(server.socket)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # already awake
            self._wake_write.send(b"\0")

    def _loop(self) -> None:
        while True:
            for key, _ in self._selector.select():
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_read.recv(4096)
                    continue
                with self._lock:  # still registered: not stopped since select() returned
                    live = self._selector.get_map().get(key.fd) is key
                if live:  # a server closed meanwhile fails accept(), which it ignores
                    key.data._handle_request_noblock()


_acceptor = _Acceptor()


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], owner: Any, port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
        self._server = QuietServer((LOOPBACK, port), handler, bind_and_activate=True)
        self._server.owner = owner
        self._server.tls = tls
        self._started = False

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        if not self._started:
            self._started = True
            _acceptor.add(self._server)

    def begin_stop(self) -> None:
        """Stop accepting connections at once (connections already open finish on their threads)."""
        if self._started:
            self._started = False
            _acceptor.remove(self._server)

    def stop(self) -> None:
        self.begin_stop()
        self._server.server_close()
