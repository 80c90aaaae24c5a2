"""Talking to the bot as Slack does: signed slash commands and button clicks POSTed to
/slack/events over real HTTP, signed deploy webhooks, and the ASGI app served by uvicorn on
127.0.0.1 (an ephemeral port) in a thread. Used by the tests and by bench/slack_ack.py."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.http.webhook import sign

SIGNING_SECRET = "test-signing-secret"
WEBHOOK_SECRET = "test-webhook-secret"
ALICE, BOB, CAROL = "U01ALICE", "U02BOB", "U03CAROL"

_trigger = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 30.0) -> Reply:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Reply(answer.status, answer.read(), time.perf_counter() - start)
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read(), time.perf_counter() - start)


def get(url: str) -> Reply:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as answer:
        return Reply(answer.status, answer.read(), time.perf_counter() - start)


class SlackSender:
    """Signs requests the way Slack does (v0 HMAC-SHA256 of `v0:{timestamp}:{body}`)."""

    def __init__(self, base_url: str, signing_secret: str, response_url: str) -> None:
        self.url = f"{base_url}/slack/events"
        self.verifier = SignatureVerifier(signing_secret)
        self.response_url = response_url

    def headers(self, body: bytes, *, timestamp: int | None = None, signature: str | None = None,
                content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signed = self.verifier.generate_signature(timestamp=ts, body=body.decode())
        return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature or str(signed)}

    def command_body(self, user: str, text: str, channel: str = "C0SHOP", command: str = "/recycle") -> bytes:
        return urlencode({
            "token": "legacy-unused", "team_id": "T0FAKE", "team_domain": "fake", "channel_id": channel,
            "channel_name": "shop", "user_id": user, "user_name": user.lower(), "command": command, "text": text,
            "api_app_id": "A0ASPRESET", "response_url": self.response_url, "trigger_id": f"t.{next(_trigger)}",
        }).encode()

    def command(self, user: str, text: str, channel: str = "C0SHOP", **signing: Any) -> Reply:
        body = self.command_body(user, text, channel)
        return post(self.url, body, self.headers(body, **signing))

    def click_body(self, user: str, action_id: str, value: str, channel: str, message_ts: str,
                   block_id: str | None = None, message: dict[str, Any] | None = None) -> bytes:
        payload = {
            "type": "block_actions", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
            "api_app_id": "A0ASPRESET", "token": "legacy-unused", "trigger_id": f"t.{next(_trigger)}",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel}, "message": {"ts": message_ts, "type": "message", **(message or {})},
            "response_url": self.response_url,
            "actions": [{"type": "button", "action_id": action_id, "block_id": block_id or _block_of(action_id, value),
                         "value": value,
                         "action_ts": f"{time.time():.6f}"}],
        }
        return urlencode({"payload": json.dumps(payload)}).encode()

    def event(self, event: dict[str, Any]) -> Reply:
        """An Events API delivery (JSON), e.g. app_home_opened."""
        body = json.dumps({"token": "legacy-unused", "team_id": "T0FAKE", "api_app_id": "A0ASPRESET",
                           "type": "event_callback", "event_id": f"Ev{next(_trigger)}",
                           "event_time": int(time.time()), "event": event}).encode()
        return post(self.url, body, self.headers(body, content_type="application/json"))

    def submit(self, user: str, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> Reply:
        body = view_submission_body(user, view, values)
        return post(self.url, body, self.headers(body))

    def click(self, user: str, action_id: str, value: str, channel: str, message_ts: str,
              block_id: str | None = None, message: dict[str, Any] | None = None, **signing: Any) -> Reply:
        """`message`: the clicked message's text and blocks, which Slack sends back with the click."""
        body = self.click_body(user, action_id, value, channel, message_ts, block_id, message)
        return post(self.url, body, self.headers(body, **signing))


def view_submission_body(user: str, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> bytes:
    """Submitting a modal the bot opened: its view back with the inputs' values."""
    payload = {"type": "view_submission", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
               "api_app_id": "A0ASPRESET", "token": "legacy-unused", "trigger_id": f"t.{next(_trigger)}",
               "view": {**view, "id": "V0001", "state": {"values": values}}}
    return urlencode({"payload": json.dumps(payload)}).encode()


def _block_of(action_id: str, value: str) -> str:
    """The block a button sits in, as the bot builds it (Slack sends it back with the click)."""
    if action_id in ("aspreset.approve", "aspreset.deny", "aspreset.cancel"):
        return f"approval:{value}"
    return f"failed:{value}" if action_id == "aspreset.retry" else "buttons"


def deploy_hook(base_url: str, secret: str, notice: dict[str, Any] | bytes, *, timestamp: int | None = None,
                signature: str | None = None) -> Reply:
    body = notice if isinstance(notice, bytes) else json.dumps(notice).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", "X-Aspreset-Timestamp": ts,
               "X-Aspreset-Signature": signature or sign(secret, ts, body)}
    return post(f"{base_url}/hooks/deploy", body, headers)
