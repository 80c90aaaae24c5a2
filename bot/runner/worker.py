"""Inside a runner process (`aspreset serve --run-one`, `aspreset mcp --run-one`): wait for one job
on stdin, `{"run": "r-..."}`, the id of an approved request; claim it, run it and record it to the
end through the core, printing on stdout what happens, one JSON object a line:

    {"event": {...a RequestEvent: started, host_started, host_finished, finished, with the view...}}
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
from collections.abc import Callable
from typing import Any, TextIO

from bot.app.events import RequestEvent
from bot.app.incidents import reply_for
from bot.app.service import Service


class EventLines:
    """The service's Notifier in a runner: each event as one JSON line on `out`. A reader that left
    (the front end ended) only stops the lines, never the restart."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.gone = False

    def notify(self, event: RequestEvent) -> None:
        self.write({"event": event.model_dump(mode="json")})

    def write(self, line: dict[str, Any]) -> None:
        if self.gone:
            return
        try:
            self.out.write(json.dumps(line, default=str) + "\n")
            self.out.flush()
        except (BrokenPipeError, OSError, ValueError):  # ValueError: the stream was closed
            self.gone = True

    def close(self) -> None:
        """Closed here, so that the interpreter's own flush at exit has no broken pipe to report."""
        with contextlib.suppress(OSError):
            self.out.close()


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
