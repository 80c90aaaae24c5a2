"""A requests transport adapter over one http.client connection, for WinRM over plain http.

Below requests' Session, its own adapter goes through urllib3's pool, retries, timeouts and response
objects on every request; with this adapter instead, a host's operation took about a quarter less
of the bot's CPU (docs/benchmarks.md), which a wave of fifty hosts pays fifty times over on one
interpreter. A WinRM session over http needs none of it: one keep-alive
connection (NTLM authenticates the connection), no proxy, no redirects, no cookies, no content
encoding. So `LeanAdapter` keeps requests' Session, auth and pywinrm's whole request and error
handling, and replaces only the part below `Session.send`.

It is mounted only where that holds (bot.winrm.transport): plain http, no proxy, NTLM (our
NEGOTIATE/AUTHENTICATE, bot.winrm.negotiate) or Basic. Everything else (https, Kerberos,
CredSSP, a proxy) goes through requests' adapter as before. Errors are requests' exceptions, as
HTTPAdapter raises them, so bot.winrm.faults maps both the same way; every socket it opens is
registered with the session's SocketWatch, so a deadline cuts it as before.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NewConnectionError
from urllib3.util.wait import wait_for_read

from bot.winrm.deadline import SocketWatch

# What a request through requests carries that this connection must not send: http.client adds
# its own Host and `Accept-Encoding: identity` (nothing here would decode gzip).
_DROPPED = frozenset({"accept-encoding", "host"})


class LeanAdapter(BaseAdapter):
    """One host's keep-alive HTTP/1.1 connection. A session is used by one thread at a time
    (bot.winrm.sessions), and so is its adapter."""

    def __init__(self, watch: SocketWatch) -> None:
        super().__init__()
        self.watch = watch
        self._conn: http.client.HTTPConnection | None = None
        self._origin: tuple[str, int] | None = None

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        connect_s, read_s = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        url = urlsplit(request.url or "")
        conn = self._connection(url.hostname or "", url.port or 80, connect_s, request)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        try:
            assert conn.sock is not None
            conn.sock.settimeout(read_s)
            conn.request(request.method or "POST", target, body=request.body, headers=headers)
            raw = conn.getresponse()
            body = raw.read()
        except TimeoutError as exc:
            self.close()
            raise requests.exceptions.ReadTimeout(exc, request=request) from exc
        except (OSError, http.client.HTTPException) as exc:  # reset, closed mid-answer, or cut by the deadline
            self.close()
            raise requests.exceptions.ConnectionError(exc, request=request) from exc
        if raw.will_close:
            self.close()
        return self._response(request, raw, body)

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def _connection(
        self, host: str, port: int, connect_s: float | None, request: requests.PreparedRequest
    ) -> http.client.HTTPConnection:
        """The open connection to host:port, or a new one (an idle connection the server closed is
        noticed here, before anything is sent on it, as urllib3 does)."""
        if self._conn is not None and (self._origin != (host, port) or _dropped(self._conn)):
            self.close()
        if self._conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=connect_s)
            try:
                conn.connect()
            except TimeoutError as exc:
                conn.close()
                raise requests.exceptions.ConnectTimeout(exc, request=request) from exc
            except OSError as exc:  # refused, unreachable, DNS: named by the cause
                conn.close()
                failed = NewConnectionError(None, f"Failed to establish a new connection: {exc}")  # type: ignore[arg-type]
                failed.__cause__ = exc
                raise requests.exceptions.ConnectionError(failed, request=request) from exc
            assert conn.sock is not None
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.watch.add(conn.sock, new_connection=True)
            self._conn, self._origin = conn, (host, port)
        return self._conn

    def _response(
        self, request: requests.PreparedRequest, raw: http.client.HTTPResponse, body: bytes
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = raw.status
        response.reason = raw.reason
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in raw.getheaders():  # repeated headers joined, as urllib3 does
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        response.headers = headers
        response._content = body
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]  # as HTTPAdapter sets it
        return response


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """A kept connection is dropped when its socket is gone or already readable (EOF or junk)."""
    return conn.sock is None or wait_for_read(conn.sock, timeout=0.0)
