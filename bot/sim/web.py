"""The HTTP side of a simulated IIS server: what warm-up requests hit. A request is routed to the
application with the longest matching path; if its pool has no worker serving, one is started
(on-demand start) and the request waits for it, as HTTP.sys queues it on a real server."""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from bot.sim.iis import IisServer


class SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        self._serve(with_body=False)

    def _serve(self, *, with_body: bool) -> None:
        iis: IisServer
        stop: threading.Event
        iis, stop, counter = self.server.owner  # type: ignore[attr-defined]
        counter()
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path) or "/"
        status, text = iis.serve(path, self.headers.get("Host"), stop)
        body = (text + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
