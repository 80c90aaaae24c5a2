"""A local fake of Slack's Socket Mode endpoint: a WebSocket server on 127.0.0.1 (plain ws://, which
slack-sdk's built-in client accepts on any port but 443, for testing) that says hello, sends
envelopes (a slash command, a click) and records the client's acks with their payloads. Only the
part of RFC 6455 the client uses: the upgrade handshake, text frames, ping/pong and close."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
from typing import Any

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketMode:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._conn: socket.socket | None = None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self.acks: dict[str, dict[str, Any]] = {}  # envelope id -> what the client answered
        self.hello_sent = False
        self._ids = itertools.count(1)
        self._closed = False
        threading.Thread(target=self._accept, name="fake-socket-mode", daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=fake"

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        if self._conn is not None:
            self._conn.close()

    # ---- what tests use -------------------------------------------------------------------------

    def wait_connected(self, timeout: float = 20.0) -> None:
        self._wait(lambda: self.hello_sent, timeout, "a Socket Mode connection")

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Send one envelope (kind: slash_commands, interactive, events_api); returns its id."""
        envelope_id = f"env-{next(self._ids)}"
        self._send_text({"envelope_id": envelope_id, "type": kind, "payload": payload,
                         "accepts_response_payload": kind != "events_api", "retry_attempt": 0, "retry_reason": ""})
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 20.0) -> dict[str, Any]:
        self._wait(lambda: envelope_id in self.acks, timeout, f"an ack of {envelope_id}")
        return self.acks[envelope_id]

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready():
                left = deadline - time.monotonic()
                assert left > 0, f"no {what} within {timeout} s"
                self._cond.wait(left)

    # ---- the server -----------------------------------------------------------------------------

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        self._conn = conn
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        headers = dict(
            line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line
        )
        key = headers.get("Sec-WebSocket-Key", "").strip()
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        self._send_text({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0ASPRESET"},
                         "debug_info": {"host": "fake", "approximate_connection_time": 3600}})
        with self._cond:
            self.hello_sent = True
            self._cond.notify_all()
        self._read_frames(conn)

    def _read_frames(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        while not self._closed:
            try:
                head = reader.read(2)
                if len(head) < 2:
                    return
                opcode, length = head[0] & 0x0F, head[1] & 0x7F
                if length == 126:
                    length = struct.unpack(">H", reader.read(2))[0]
                elif length == 127:
                    length = struct.unpack(">Q", reader.read(8))[0]
                mask = reader.read(4) if head[1] & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(reader.read(length)))
            except OSError:
                return
            if opcode == 0x9:  # ping: answer pong with the same data
                self._send_frame(0xA, data)
            elif opcode == 0x8:
                return
            elif opcode == 0x1:
                message = json.loads(data.decode())
                if "envelope_id" in message:
                    with self._cond:
                        self.acks[message["envelope_id"]] = message
                        self._cond.notify_all()

    def _send_text(self, message: dict[str, Any]) -> None:
        self._send_frame(0x1, json.dumps(message).encode())

    def _send_frame(self, opcode: int, data: bytes) -> None:
        assert self._conn is not None, "no client connected yet"
        length = len(data)
        if length < 126:
            head = struct.pack(">BB", 0x80 | opcode, length)
        elif length < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 126, length)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 127, length)
        with self._send_lock:
            self._conn.sendall(head + data)
