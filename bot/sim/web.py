"""The HTTP side of a simulated IIS server: what warm-up requests hit, answered as HTTP.sys and IIS
answer them (bot.sim.http_sys), `Server` header included."""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from bot.sim.http_sys import serve
from bot.sim.iis import IisServer
from bot.sim.network import LOCAL_ADDRESS_HEADER, LOOPBACK


class SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

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
        port = int(self.server.server_address[1])  # type: ignore[index]
        # The address the request was sent to (bot.sim.network): HTTP.sys routes by it too.
        local = self.headers.get(LOCAL_ADDRESS_HEADER) or LOOPBACK
        answer = serve(iis, port, path, self.headers.get("Host"), stop, local)
        body = (answer.body + "\n").encode("utf-8")
        self.send_response_only(answer.status)
        if answer.server:  # HTTP.sys with DisableServerHeader sends none
            self.send_header("Server", answer.server)
        self.send_header("Date", self.date_time_string())
        if answer.location:
            self.send_header("Location", answer.location)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
