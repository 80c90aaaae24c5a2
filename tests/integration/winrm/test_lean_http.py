"""The http.client adapter under WinRM over plain http (bot.winrm.lean_http): a connection the server
closed while idle is replaced before anything is sent on it, repeated headers arrive joined as
requests joins them, failures are requests' own exceptions, and the sessions that may use it do."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from bot.winrm.credentials import Credentials
from bot.winrm.deadline import SocketWatch
from bot.winrm.lean_http import LeanAdapter
from bot.winrm.transport import Timeouts, WatchedAdapter, open_session
from policies.inventory import Host

ANSWER = (b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Basic realm=\"WSMAN\"\r\n"
          b"Content-Length: 2\r\n\r\nno")


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = lengths[0] if lengths else 0
    while len(body) < length:
        body += conn.recv(65536)
    return head


@pytest.fixture
def closing_server() -> Iterator[tuple[int, list[bytes], queue.Queue[int]]]:
    """Answers one request per connection, then closes it without saying so (as a server whose
    keep-alive timeout passed does); `closed` hears each close."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []
    closed: queue.Queue[int] = queue.Queue()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                seen.append(_read_request(conn))
                conn.sendall(ANSWER)
            closed.put(len(seen))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], seen, closed
    listener.close()
    thread.join(timeout=5)


def _post(session: requests.Session, port: int) -> requests.Response:
    return session.post(f"http://127.0.0.1:{port}/wsman", data=b"<x/>", timeout=(5, 5))


def test_a_connection_the_server_closed_while_idle_is_replaced_before_the_next_request(closing_server):
    port, seen, closed = closing_server
    watch = SocketWatch()
    session = requests.Session()
    session.mount("http://", LeanAdapter(watch))

    first = _post(session, port)
    assert closed.get(timeout=5) == 1  # on loopback the FIN is in the client's socket once close returns
    second = _post(session, port)

    assert (first.status_code, second.status_code) == (401, 401)
    assert watch.connections == 2 and len(seen) == 2
    assert second.headers["WWW-Authenticate"] == 'Negotiate, Basic realm="WSMAN"'  # joined, as requests does
    assert second.content == b"no" and second.request.url.endswith("/wsman")
    assert all(b"Accept-Encoding: gzip" not in head for head in seen)  # nothing here decodes gzip


def test_a_refused_connection_is_requests_connection_error_naming_the_refusal():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    session = requests.Session()
    session.mount("http://", LeanAdapter(SocketWatch()))
    with pytest.raises(requests.exceptions.ConnectionError) as raised:
        _post(session, port)
    cause = raised.value.__cause__
    assert isinstance(cause, ConnectionRefusedError)


@pytest.mark.parametrize(("transport", "scheme", "lean"), [
    ("ntlm", "http", True), ("basic", "http", True), ("ntlm", "https", False), ("kerberos", "http", False)])
def test_only_plain_http_sessions_with_ntlm_or_basic_use_the_lean_adapter(transport, scheme, lean):
    host = Host(address="web01", transport=transport, scheme=scheme, lab=True)
    session = open_session("web01", host, Credentials("lab\\u", "p"), Timeouts())
    transport_ = session.protocol.transport
    http = requests.Session()
    transport_._watch_sockets(http)  # type: ignore[attr-defined]
    adapter = http.get_adapter(host.endpoint)
    assert isinstance(adapter, LeanAdapter) is lean and isinstance(adapter, WatchedAdapter) is not lean
