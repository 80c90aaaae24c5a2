"""Inside a runner process (`aspreset serve --run-one`, `aspreset mcp --run-one`): wait for one job
on stdin, `{"run": "r-..."}`, the id of an approved request; claim it, run it and record it to the
end through the core, printing on stdout what happens, one JSON object a line:

    {"event": {...a RequestEvent: started, host_started, host_finished, finished, with the view...}}
    {"winrm_error": {"op": ..., "code": ..., "fault": ...}}  (a failed WinRM call, for the front end's metrics)
    {"result": {...the RequestView the core answered...}}
    {"error": {...an ErrorView: the runner could not build the service or the run failed...}}

A runner is started before its job is known (warm, with its modules imported) and builds the service
only once the job arrives, so the files it reads are the current ones. SIGTERM and SIGINT do not
stop it: a restart that has started is finished (each host call is bounded by its deadline); only a
hard kill stops it, and then its liveness record lapses and a sweeper marks the request interrupted.
If the front end goes away, the lines stop and the run goes on: the store has every step."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from bot.app.events import EventKind, RequestEvent
from bot.app.incidents import reply_for
from bot.app.ports import NoMetrics
from bot.app.service import Service

VIEW_EVERY_S = 0.5
_HOST_EVENTS = frozenset({EventKind.HOST_STARTED, EventKind.HOST_FINISHED})


class EventLines:
    """The service's Notifier in a runner: each event as one JSON line on `out` (the rollout's host
    threads write them, one whole line at a time). A host event carries the request's view at most
    every `VIEW_EVERY_S`: a 200-host rollout's 400 views (each with every host so far) would cost
    the front end more to read than the run costs here, and Slack shows one update a second anyway;
    every other event, the run's end above all, carries its view. A reader that left (the front end
    ended) only stops the lines, never the restart."""

    def __init__(self, out: TextIO, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.gone = False
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._view_sent = float("-inf")

    def notify(self, event: RequestEvent) -> None:
        if event.kind in _HOST_EVENTS and event.request is not None:
            now = self._monotonic()
            with self._lock:
                recent = now - self._view_sent < VIEW_EVERY_S
                if not recent:
                    self._view_sent = now
            if recent:
                event = event.model_copy(update={"request": None})
        self.write({"event": event.model_dump(mode="json")})

    def write(self, line: dict[str, Any]) -> None:
        text = json.dumps(line, default=str) + "\n"
        with self._lock:
            if self.gone:
                return
            try:
                self.out.write(text)
                self.out.flush()
            except (BrokenPipeError, OSError, ValueError):  # ValueError: the stream was closed
                self.gone = True

    def close(self) -> None:
        """Closed here, so that the interpreter's own flush at exit has no broken pipe to report."""
        with contextlib.suppress(OSError):
            self.out.close()


class RunnerMetrics(NoMetrics):
    """The Metrics port in a runner: its WinRM calls' failures go to the front end as lines, counted
    there (the process a scraper reaches); the request's events go as events, counted there too."""

    def __init__(self, lines: EventLines) -> None:
        self.lines = lines

    def count_winrm_error(self, op: str, code: str, fault: int | None) -> None:
        self.lines.write({"winrm_error": {"op": op, "code": code, "fault": fault}})


def job_line(request_id: str) -> str:
    """What the front end writes to a runner's stdin."""
    return json.dumps({"run": request_id}) + "\n"


def serve_job(build: Callable[[EventLines], Service], stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Wait for the job, run it to the end, print the answer. Exit 0 with nothing done when stdin
    closes first (a warm runner whose front end stopped)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    lines = EventLines(stdout)
    raw = stdin.readline()
    if not raw.strip():
        return 0
    request_id = str(json.loads(raw)["run"])
    stdin.close()
    try:
        service = build(lines)
        view = service.run_approved(request_id)
    except Exception as error:  # the files cannot be read now, or the run failed: recorded, and said
        lines.write({"error": reply_for(error, command="run", request_id=request_id).model_dump(mode="json")})
        lines.close()
        return 1
    lines.write({"result": view.model_dump(mode="json")})
    lines.close()
    return 0
