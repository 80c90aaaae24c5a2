"""A local fake of Slack's Web API, in the manner of bolt-python's tests/mock_web_api_server: a real
HTTP server on 127.0.0.1 (ephemeral port) that answers the methods the bot calls and records every
call with its parsed body. The app's WebClient is pointed at `base_url`. Tests wait on the record
with a deadline (`wait_for`), never by sleeping.

It answers as Slack's Web API documents (docs/slack-api-behaviour.md has the sources):
- `rate_limit(method, times, retry_after)`: HTTP 429 with `Retry-After`, as past a method's tier;
- a channel set with `channel_state(channel, error)` answers chat.postMessage and chat.update with
  that error (`not_in_channel`, `channel_not_found`, `is_archived`), HTTP 200 and `ok: false`;
- messages over Block Kit's limits are refused with `invalid_blocks` (more than 50 blocks, a
  section's text over 3000 characters, a context with more than 10 elements, a button's text over
  75 or value over 2000, a block_id over 255) and text over 40,000 characters with `msg_too_long`;
  a message with neither text nor blocks with `no_text`;
- chat.update of a ts it never posted in that channel answers `message_not_found`;
- chat.getPermalink answers a permalink for a posted message; views.open needs a trigger_id that
  Slack handed out (3 s) and a modal within the view limits;
- conversations.info answers a channel's name for the channels in `channel_names`, else
  `channel_not_found`."""

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
MAX_BLOCKS = 50  # in a message; 100 in a modal or Home tab
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_BLOCK_ID = 255
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_TITLE = 24
CHANNEL_ERRORS = ("not_in_channel", "channel_not_found", "is_archived")


def block_errors(blocks: list[dict[str, Any]], max_blocks: int = MAX_BLOCKS) -> list[str]:
    """What Slack would say is wrong with these blocks (its `response_metadata.messages`)."""
    errors = [f"no more than {max_blocks} items allowed [json-pointer:/blocks]"] if len(blocks) > max_blocks else []
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}"
        if len(str(block.get("block_id", ""))) > MAX_BLOCK_ID:
            errors.append(f"must be less than {MAX_BLOCK_ID + 1} characters {where}/block_id]")
        if block.get("type") == "section":
            text = str((block.get("text") or {}).get("text", ""))
            if not text and not block.get("fields"):
                errors.append(f"must provide text or fields {where}/text]")
            if len(text) > MAX_SECTION_TEXT:
                errors.append(f"must be less than {MAX_SECTION_TEXT + 1} characters {where}/text/text]")
        if block.get("type") == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                errors.append(f"must have 1 to {MAX_CONTEXT_ELEMENTS} items {where}/elements]")
            errors += [f"must be less than {MAX_SECTION_TEXT + 1} characters {where}/elements/{j}/text]"
                       for j, e in enumerate(elements) if len(str(e.get("text", ""))) > MAX_SECTION_TEXT]
        for j, element in enumerate(block.get("elements") or [] if block.get("type") == "actions" else []):
            if len(str((element.get("text") or {}).get("text", ""))) > MAX_BUTTON_TEXT:
                errors.append(f"must be less than {MAX_BUTTON_TEXT + 1} characters {where}/elements/{j}/text/text]")
            if len(str(element.get("value", ""))) > MAX_BUTTON_VALUE:
                errors.append(f"must be less than {MAX_BUTTON_VALUE + 1} characters {where}/elements/{j}/value]")
    return errors


@dataclass(frozen=True)
class Call:
    method: str  # chat.postMessage, chat.update, ...
    body: dict[str, Any]
    token: str | None
    at: float  # time.monotonic() when it arrived
    wall: float = field(default_factory=time.time)  # time.time() when it arrived
    status: int = 200
    answer: dict[str, Any] = field(default_factory=dict)  # what the fake answered (e.g. the message's ts)

    @property
    def accepted(self) -> bool:
        """Slack took it (not a 429, not `ok: false`)."""
        return self.status == 200 and self.answer.get("ok", True) is not False

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
    channels: dict[str, str] = field(default_factory=dict)  # channel -> the error Slack answers for it
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (channel, ts) -> body
    views: list[dict[str, Any]] = field(default_factory=list)  # modals opened (views.open)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> the Home tab published
    # channel -> its members (conversations.members); a channel not listed answers missing_scope, as
    # for an app installed without channels:read
    channel_members: dict[str, list[str]] = field(default_factory=dict)
    # channel -> its name (conversations.info); any other channel answers channel_not_found
    channel_names: dict[str, str] = field(default_factory=lambda: {"C0SHOP": "shop-deploys"})
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

    def channel_state(self, channel: str, error: str | None) -> None:
        """From now on Slack answers posts to `channel` with `error` (None: it works again)."""
        assert error is None or error in CHANNEL_ERRORS, error
        with self._cond:
            if error is None:
                self.channels.pop(channel, None)
            else:
                self.channels[channel] = error

    def refused(self, method: str | None = None) -> list[Call]:
        """Calls Slack answered with ok: false (HTTP 200) or 429."""
        with self._cond:
            return [c for c in self.calls if (method is None or c.method == method)
                    and (c.status != 200 or c.answer.get("ok") is False)]

    def of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and c.accepted]

    def wait_for(self, predicate: Callable[[list[Call]], Any], timeout: float = 20.0, what: str = "",
                 *, refused_too: bool = False) -> Any:
        """Wait until predicate(calls Slack took; with refused_too, every call) is truthy; return its
        value. Fails with what was seen."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate([c for c in self.calls if refused_too or c.accepted])
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
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            refused = self._refuse_message(body)
            if refused is not None:
                return refused
        channel = str(body.get("channel") or "")
        if method == "chat.postMessage":
            ts = f"{int(time.time())}.{next(self._ts):06d}"  # a message's ts is when it was posted
            self.messages[(channel, ts)] = body
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"text": body.get("text", ""), "ts": ts}}
        if method == "chat.update":
            if (channel, str(body.get("ts"))) not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[(channel, str(body.get("ts")))] = body
            return {"ok": True, "channel": channel, "ts": body.get("ts"), "text": body.get("text", "")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "chat.getPermalink":
            ts = str(body.get("message_ts") or "")
            if channel in self.channels and self.channels[channel] != "is_archived":
                return {"ok": False, "error": "channel_not_found"}
            if (channel, ts) not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            return {"ok": True, "channel": channel,
                    "permalink": f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}"}
        if method == "views.open":
            return self._open_view(body)
        if method == "conversations.members":
            if channel not in self.channel_members:
                return {"ok": False, "error": "missing_scope", "needed": "channels:read", "provided": "chat:write"}
            return {"ok": True, "members": self.channel_members[channel], "response_metadata": {"next_cursor": ""}}
        if method == "conversations.info":
            if channel not in self.channel_names or self.channels.get(channel) == "channel_not_found":
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "channel": {"id": channel, "name": self.channel_names[channel],
                                            "is_archived": self.channels.get(channel) == "is_archived"}}
        if method == "conversations.open":
            users = str(body.get("users") or "")
            if not users or "," in users:
                return {"ok": False, "error": "users_list_not_supplied" if not users else "not_enough_users"}
            return {"ok": True, "channel": {"id": f"D{users}"}}
        if method == "views.publish":
            raw = body.get("view") or {}
            view = json.loads(raw) if isinstance(raw, str) else dict(raw)
            errors = block_errors(view.get("blocks") or [], MAX_VIEW_BLOCKS)
            if view.get("type") != "home" or not body.get("user_id") or errors:
                return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
            self.homes[str(body["user_id"])] = view
            return {"ok": True, "view": {**view, "id": "VHOME"}}
        return {"ok": True}

    def _refuse_message(self, body: dict[str, Any]) -> dict[str, Any] | None:
        channel = str(body.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.channels:
            return {"ok": False, "error": self.channels[channel]}
        raw = body.get("blocks") or []
        blocks = json.loads(raw) if isinstance(raw, str) else list(raw)
        text = str(body.get("text") or "")
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if len(text) > MAX_MESSAGE_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        errors = block_errors(blocks)
        if errors:
            return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": errors}}
        return None

    def _open_view(self, body: dict[str, Any]) -> dict[str, Any]:
        trigger = str(body.get("trigger_id") or "")
        if not trigger.startswith("t."):  # what SlackSender hands out with each command and click
            return {"ok": False, "error": "invalid_trigger_id"}
        raw = body.get("view") or {}
        view = json.loads(raw) if isinstance(raw, str) else dict(raw)
        title = str((view.get("title") or {}).get("text", ""))
        errors = block_errors(view.get("blocks") or [], MAX_VIEW_BLOCKS)
        if view.get("type") != "modal" or not title or len(title) > MAX_VIEW_TITLE:
            errors.append("the view needs type modal and a title of 1 to 24 characters")
        if errors:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
        self.views.append(view)
        return {"ok": True, "view": {**view, "id": f"V{len(self.views):08d}"}}

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
