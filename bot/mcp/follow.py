"""The stdio server's side of a restart: start the runner (bot/mcp/runner.py) in a session of its
own, follow its lines, pass each host and wave on as MCP progress, and answer with the core's view.

A client gives up on a call after a while (the TypeScript SDK after 60 s by default), so a call
still running after `answer_after_s` answers with the request as it stands (`running`, the hosts so
far) and tells the assistant to follow it with get_request; the runner goes on and records it to
the end, as it does when the server itself is stopped."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import anyio
import anyio.to_thread
import structlog

from bot.app.events import EventKind, RequestEvent
from bot.app.views import ErrorView, RefusalView, RequestView, View
from bot.mcp.runner import arguments_line
from policies.identity import Principal

log = structlog.get_logger("aspreset.mcp")

ANSWER_AFTER_S = 25.0
Progress = Callable[[float, float | None, str | None], Awaitable[None]]
VIEWS: dict[str, type[RequestView] | type[RefusalView] | type[ErrorView]] = {
    "request": RequestView, "refusal": RefusalView, "error": ErrorView,
}
_ENDED = object()


@dataclass(frozen=True)
class RunnerCommand:
    """How to start a runner: `aspreset mcp --run-one` with the server's own configuration."""

    argv: Sequence[str]
    answer_after_s: float = ANSWER_AFTER_S


class Followed:
    """One runner's lines, read on a thread of their own until the runner ends (so its pipe never
    fills, whether or not anyone still waits for the answer)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[object] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), name="mcp-runner-lines", daemon=True).start()

    def _read(self, out: IO[str]) -> None:
        for raw in out:
            try:
                self.lines.put(json.loads(raw))
            except ValueError:
                log.warning("runner_line_unreadable", line=raw[:200])
        self.lines.put(_ENDED)
        self.process.wait()

    def next(self, timeout: float) -> object:
        try:
            return self.lines.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None


async def run_restart(
    command: RunnerCommand, principal: Principal, arguments: dict[str, Any], progress: Progress
) -> View:
    """Start the runner for this request_restart call and answer with its view, or with the request
    as it stands once `answer_after_s` has passed."""
    process = subprocess.Popen(
        list(command.argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert process.stdin is not None
    process.stdin.write(arguments_line(principal, arguments))
    process.stdin.close()
    followed = Followed(process)
    deadline = anyio.current_time() + command.answer_after_s
    latest: RequestView | None = None
    steps = 0
    while True:
        # past the deadline, the answer waits only until the request is recorded and has started
        wait = max(deadline - anyio.current_time(), 0.0 if _started(latest) else 0.5)
        line = await anyio.to_thread.run_sync(followed.next, wait)
        if line is None:
            if _started(latest) and anyio.current_time() >= deadline:
                assert latest is not None
                return _still_running(latest, command.answer_after_s)
            continue
        if line is _ENDED:
            return _ended_without_answer(latest)
        assert isinstance(line, dict)
        if "result" in line:
            return VIEWS[line["result"]["kind"]].model_validate(line["result"])
        event = RequestEvent.model_validate(line["event"])
        latest = event.request or latest
        if event.kind in (EventKind.HOST_STARTED, EventKind.HOST_FINISHED):
            steps += 1
            await progress(steps, 2 * int(event.detail.get("total") or 1), _progress_message(event))


def _started(view: RequestView | None) -> bool:
    return view is not None and view.state == "running"


def _progress_message(event: RequestEvent) -> str:
    wave = event.detail.get("wave")
    waves = event.detail.get("waves")
    where = f" (wave {wave} of {waves})" if wave and waves and waves > 1 else ""
    if event.kind == EventKind.HOST_STARTED:
        return f"{event.host}: started{where}"
    outcome = event.detail.get("outcome", "finished")
    return f"{event.host}: {outcome}{where}; {event.detail.get('done')} of {event.detail.get('total')} hosts done"


def _still_running(latest: RequestView, waited_s: float) -> View:
    return latest.model_copy(update={
        "message": f"still running after {waited_s:g} s; it goes on and is recorded to the end",
        "next_step": "follow it with get_request until it ends",
    })


def _ended_without_answer(latest: RequestView | None) -> View:
    message = "the runner stopped before answering"
    if latest is None:
        return ErrorView(code="internal", message=f"{message}; nothing was recorded (the bot's log has why)")
    return latest.model_copy(update={"message": f"{message}; get_request shows where the request stands"})
