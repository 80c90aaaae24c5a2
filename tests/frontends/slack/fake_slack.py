"""A local fake of Slack's Web API, in the manner of bolt-python's tests/mock_web_api_server: a real
HTTP server on 127.0.0.1 (ephemeral port) that answers the methods the bot calls and records every
call with its parsed body. The app's WebClient is pointed at `base_url`. Tests wait on the record
with a deadline (`wait_for`), never by sleeping. `rate_limit(method, times, retry_after)` answers
429 with Retry-After, as Slack does past a method's rate tier."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_USER = "U0BOT"


@dataclass(frozen=True)
class Call:
    method: str  # chat.postMessage, chat.update, ...
    body: dict[str, Any]
    token: str | None
    at: float  # time.monotonic() when it arrived
    status: int = 200
    answer: dict[str, Any] = field(default_factory=dict)  # what the fake answered (e.g. the message's ts)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        raw = self.body.get("blocks") or []
        return json.loads(raw) if isinstance(raw, str) else list(raw)

    @property
    def text_everywhere(self) -> str:
        """The message's text and every text in its blocks, one string: what a reader sees."""
        return self.body.get("text", "") + "\n" + json.dumps(self.blocks, ensure_ascii=False)


@dataclass
class _Limit:
    times: int
    retry_after: int


@dataclass
class FakeSlack:
    token: str = "xoxb-test-token"
    socket_mode_url: str | None = None  # what apps.connections.open hands out (a FakeSocketMode)
    user_groups: dict[str, list[str]] = field(default_factory=dict)  # S... -> user ids, for usergroups.list
    calls: list[Call] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _limits: dict[str, _Limit] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    # ---- what tests use -------------------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        with self._cond:
            self._limits[method] = _Limit(times, retry_after)

    def of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and c.status == 200]

    def wait_for(self, predicate: Callable[[list[Call]], Any], timeout: float = 20.0, what: str = "") -> Any:
        """Wait until predicate(calls) is truthy; return its value. Fails with what was seen."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate([c for c in self.calls if c.status == 200])
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.body.get("text", "")[:80]) for c in self.calls]
                    raise AssertionError(f"fake Slack never saw {what or predicate}; calls: {seen}")
                self._cond.wait(left)

    # ---- the server -----------------------------------------------------------------------------

    def response_url(self, name: str) -> str:
        """A slash command's or click's response_url: replies to it are recorded as method "respond"."""
        return self.base_url.replace("/api/", f"/respond/{name}")

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        method = "respond" if request.path.startswith("/respond/") else request.path.rsplit("/", 1)[-1]
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode("utf-8") if length else ""
        if "json" in (request.headers.get("Content-Type") or ""):
            body: dict[str, Any] = json.loads(raw or "{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw).items()}
        auth = request.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ") or body.get("token")
        with self._cond:
            limit = self._limits.get(method)
            if limit is not None and limit.times > 0:
                limit.times -= 1
                self.calls.append(Call(method, body, token, time.monotonic(), status=429))
                self._cond.notify_all()
                self._reply(request, 429, {"ok": False, "error": "ratelimited"},
                            {"Retry-After": str(limit.retry_after)})
                return
            answer = self._answer(method, body, token)
            self.calls.append(Call(method, body, token, time.monotonic(), answer=answer))
            self._cond.notify_all()
        self._reply(request, 200, answer)

    def _answer(self, method: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        if method == "respond":
            return {"ok": True}
        if token != self.token and not (token or "").startswith("xapp-"):
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.test/", "team": "Fake", "user": "aspreset",
                    "team_id": "T0FAKE", "user_id": BOT_USER, "bot_id": "B0BOT"}
        if method == "apps.connections.open":
            if not (token or "").startswith("xapp-") or not self.socket_mode_url:
                return {"ok": False, "error": "invalid_auth" if self.socket_mode_url else "not_allowed_token_type"}
            return {"ok": True, "url": self.socket_mode_url}
        if method == "usergroups.list":
            return {"ok": True, "usergroups": [{"id": g, "handle": g.lower(), "users": users}
                                               for g, users in self.user_groups.items()]}
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": body.get("channel"), "ts": ts,
                    "message": {"text": body.get("text", ""), "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts"), "text": body.get("text", "")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        return {"ok": True}

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, answer: dict[str, Any],
               headers: dict[str, str] | None = None) -> None:
        data = json.dumps(answer).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)
