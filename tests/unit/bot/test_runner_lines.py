"""What a runner process prints for its front end (bot/runner/worker.py): one whole JSON line per
event, written from many host threads at once; a host event carries the request's view at most
every half second (a 200-host rollout's views would cost the front end more to read than the run),
and every other event, the run's end above all, carries its view."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime

from bot.app.events import EventKind, RequestEvent
from bot.app.views import RequestView
from bot.runner.worker import EventLines

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
VIEW = RequestView(id="r-1", state="running", site="farm-web", rung="apppool", targets=["sim001"], pool="FarmPool",
                   requester="U02BOB", requester_display="bob", origin="slack:C0", created_at=NOW, updated_at=NOW)


def _event(kind: EventKind, host: str | None = "sim001") -> RequestEvent:
    return RequestEvent(kind=kind, request_id="r-1", site="farm-web", rung="apppool", host=host, state="running",
                        detail={"total": 2}, request=VIEW)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_host_events_carry_the_view_at_most_every_half_second_and_the_end_always_does() -> None:
    out, clock = io.StringIO(), Clock()
    lines = EventLines(out, monotonic=clock)
    lines.notify(_event(EventKind.STARTED, host=None))
    lines.notify(_event(EventKind.HOST_STARTED))  # the first host event: with its view
    clock.now += 0.1
    lines.notify(_event(EventKind.HOST_STARTED, "sim002"))  # 0.1 s later: without
    clock.now += 0.45
    lines.notify(_event(EventKind.HOST_FINISHED))  # 0.55 s after the last view: with
    clock.now += 0.01
    lines.notify(_event(EventKind.FINISHED, host=None))  # the end: always with

    sent = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert [(e["kind"], e["request"] is not None) for e in sent] == [
        ("started", True), ("host_started", True), ("host_started", False), ("host_finished", True),
        ("finished", True)]
    assert sent[2]["host"] == "sim002" and sent[2]["detail"] == {"total": 2}, "the progress itself is always sent"


def test_lines_written_from_many_threads_at_once_stay_whole() -> None:
    out = io.StringIO()
    lines = EventLines(out)
    threads = [threading.Thread(target=lambda: [lines.notify(_event(EventKind.FINISHED)) for _ in range(50)])
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [json.loads(line)["event"]["kind"] for line in out.getvalue().splitlines()] == ["finished"] * 400


def test_a_front_end_that_left_stops_the_lines_never_the_caller() -> None:
    out = io.StringIO()
    lines = EventLines(out)
    out.close()
    lines.notify(_event(EventKind.FINISHED))  # no error: the run goes on, the store has every step
    assert lines.gone
