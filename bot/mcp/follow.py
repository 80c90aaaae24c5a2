"""The stdio server's side of a restart: the call runs through the core on a thread of its own, whose
run goes to a runner process (bot/runner) in a session of its own, so the client's shutdown of the
server never stops it; each host and wave the runner reports comes back on that thread and is passed
on as MCP progress, and the call answers with the core's view.

A client gives up on a call after a while (the TypeScript SDK after 60 s by default), so a call
still running after `answer_after_s` answers with the request as it stands (`running`, the hosts so
far) and tells the assistant to follow it with get_request; the runner goes on and records it to
the end, as it does when the server itself is stopped."""

from __future__ import annotations

import queue
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

import anyio
import anyio.to_thread

from bot.app.events import EventKind, RequestEvent
from bot.app.incidents import reply_for
from bot.app.views import RequestView, View

ANSWER_AFTER_S = 25.0
Progress = Callable[[float, float | None, str | None], Awaitable[None]]

_call: ContextVar[queue.Queue[object] | None] = ContextVar("aspreset_mcp_call", default=None)


@dataclass(frozen=True)
class _Answered:
    view: View


class CallEvents:
    """The stdio service's Notifier: each event goes to the tool call it happened in, if that call
    follows its restart (the Notifier is called on the thread doing the work)."""

    def notify(self, event: RequestEvent) -> None:
        heard = _call.get()
        if heard is not None:
            heard.put(event)


def _on_a_thread(call: Callable[[], View], heard: queue.Queue[object]) -> None:
    def work() -> None:
        _call.set(heard)
        try:
            view = call()
        except Exception as error:  # the dispatcher answers errors itself; this is the last guard
            view = reply_for(error, command="request_restart")
        heard.put(_Answered(view))

    # a daemon: a server that is stopped does not wait for it; the run is the runner process's
    threading.Thread(target=work, name="mcp-restart", daemon=True).start()


async def follow_restart(call: Callable[[], View], progress: Progress, answer_after_s: float) -> View:
    """Run `call` (request_restart through the core) and answer with its view, or with the request
    as it stands once `answer_after_s` has passed and it is running."""
    heard: queue.Queue[object] = queue.Queue()
    _on_a_thread(call, heard)
    deadline = anyio.current_time() + answer_after_s
    latest: RequestView | None = None
    steps = 0
    while True:
        # past the deadline, the answer waits only until the request is recorded and has started
        wait = max(deadline - anyio.current_time(), 0.0 if _started(latest) else 0.5)
        item = await anyio.to_thread.run_sync(_next, heard, wait)
        if item is None:
            if _started(latest) and anyio.current_time() >= deadline:
                assert latest is not None
                return _still_running(latest, answer_after_s)
            continue
        if isinstance(item, _Answered):
            return item.view
        assert isinstance(item, RequestEvent)
        latest = item.request or latest
        if item.kind in (EventKind.HOST_STARTED, EventKind.HOST_FINISHED):
            steps += 1
            await progress(steps, 2 * int(item.detail.get("total") or 1), _progress_message(item))


def _next(heard: queue.Queue[object], timeout: float) -> object:
    try:
        return heard.get(timeout=max(timeout, 0.0))
    except queue.Empty:
        return None


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
