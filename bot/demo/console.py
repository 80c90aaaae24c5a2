"""The local chat console: chat lines typed as one of the example people go through the same
dispatcher Slack uses, and the replies are the same views rendered as text; a button is shown as
the command to type. Deploy notices arrive through the real signed webhook (POST /hooks/deploy on
127.0.0.1) and are printed as the channel would see them. Per-host progress is printed as it
happens, from the same events the Slack message is updated from."""

from __future__ import annotations

import json
import secrets
import shlex
import sys
import time
from typing import Any, TextIO

import requests

from bot.app.deploy import DeployAssessment
from bot.app.dispatch import handle_text
from bot.app.events import EventKind, RecordingNotifier, RequestEvent
from bot.app.service import Service
from bot.app.views import View
from bot.cli.render import CHAT
from bot.cli.render import text as render_text
from bot.http.webhook import sign


class ConsoleNotifier(RecordingNotifier):
    """Keeps every event (the demo checks their order) and prints each host's progress."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out

    def notify(self, event: RequestEvent) -> None:
        super().notify(event)
        if event.kind == EventKind.HOST_STARTED:
            print(f"    .. {event.host}: {event.rung} starting", file=self.out, flush=True)
        elif event.kind == EventKind.HOST_FINISHED:
            outcome = event.detail.get("outcome", "done")
            print(f"    .. {event.host}: {outcome}", file=self.out, flush=True)


def button_command(assessment: DeployAssessment) -> str:
    """The chat line a deploy notice's button stands for: the same changed files, so the planner and
    the policy decide exactly as for the click."""
    request = assessment.follow_up
    words = ["/recycle", request.site, "--changed", *request.changed]
    if request.note:
        words += ["--reason", request.note]
    return " ".join(shlex.quote(w) for w in words)


def notice_text(channel: str, assessment: DeployAssessment) -> str:
    notice, plan = assessment.notice, assessment.plan
    by = f" by {notice.deployed_by}" if notice.deployed_by else ""
    lines = [f"[{channel}] {notice.site} {notice.version} deployed to {plan.environment}{by}"]
    lines += [f"  changed: {path}" for path in assessment.shown_files]
    if assessment.more_files:
        lines.append(f"  ... and {assessment.more_files} more")
    if assessment.restarted_by_itself:
        lines.append("  ASP.NET restarted the app by itself for these changes; nothing needs restarting.")
        label = "Warm up and verify"
    else:
        lines.append(f"  Still needed: {plan.rung.value} ({plan.method}) on {', '.join(plan.hosts)}: "
                     "ASP.NET does not pick these changes up by itself.")
        label = f"Run the {plan.rung.value} restart"
    lines += [f"  - {why}" for why in plan.why]
    lines.append(f"  [button: {label}]  type: {button_command(assessment)}")
    return "\n".join(lines)


class Console:
    def __init__(self, service: Service, notifier: ConsoleNotifier, out: TextIO = sys.stdout) -> None:
        self.service = service
        self.notifier = notifier
        self.out = out
        self.notices: list[DeployAssessment] = []
        self.webhook_url: str | None = None
        self.webhook_secret = secrets.token_hex(16)  # this run's shared secret with the "pipeline"

    def say(self, person: str, line: str, *, echo: bool = True) -> View:
        if echo:
            print(f"{person}> {line}", file=self.out, flush=True)
        view = handle_text(line, self.service.principal(person), self.service, origin=f"console:{person}")
        print(indent(render_text(view, CHAT)), file=self.out, flush=True)
        return view

    def post_notice(self, channel: str, assessment: DeployAssessment) -> str:
        """The deploy webhook's poster: the channel message, printed."""
        self.notices.append(assessment)
        print(indent(notice_text(channel, assessment)), file=self.out, flush=True)
        return f"console-{len(self.notices)}"

    def deploy(self, notice: dict[str, Any], *, secret: str | None = None) -> tuple[int, dict[str, Any]]:
        """What a CI pipeline sends: the notice, signed, to POST /hooks/deploy."""
        if self.webhook_url is None:
            raise RuntimeError("the deploy webhook is not being served")
        body = json.dumps(notice).encode()
        timestamp = str(int(time.time()))
        print(f"pipeline> POST /hooks/deploy {body.decode()}", file=self.out, flush=True)
        answer = requests.post(
            f"{self.webhook_url}/hooks/deploy", data=body, timeout=30,
            headers={"Content-Type": "application/json", "X-Aspreset-Timestamp": timestamp,
                     "X-Aspreset-Signature": sign(secret or self.webhook_secret, timestamp, body)},
        )
        data: dict[str, Any] = answer.json()
        if answer.status_code != 200:
            print(indent(f"HTTP {answer.status_code}: {data.get('error')}: {data.get('message')}"), file=self.out)
        return answer.status_code, data


def indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
