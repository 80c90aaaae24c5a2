"""Inside the Slack work process (`aspreset serve --slack-work`, hidden; started by the front end,
bot/slack/work_process.py): read the front end's jobs on stdin, one JSON line each, and run each
one's lazy function with the same Bolt app the front end has (so its name finds it): Bolt's dispatch
of a request carrying `x-slack-bolt-lazy-only` and `x-slack-bolt-lazy-function-name` runs only that
function, synchronously, here on the listener pool (8 threads; a restart goes on to the restarts'
pool, 8 more, and each runs in a runner process). Written back on stdout: `{"done": ID}` once a
job's work has ended (the restart it handed on included), and the measures (bot/metrics/forwarded.py).

SIGTERM and SIGINT do not stop it: the front end stops it by closing its stdin, after it stopped
taking requests; then the work in flight is finished (each host call bounded by its deadline), the
last message updates are sent, and it exits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, TextIO

import structlog
from slack_bolt import App
from slack_bolt.request import BoltRequest

from bot.metrics.forwarded import MetricLines
from bot.runner.worker import EventLines

log = structlog.get_logger("aspreset.slack.work")

_job: ContextVar[int | None] = ContextVar("aspreset_slack_job", default=None)


class Jobs:
    """Which jobs still have work going: the lazy function itself, and what it handed on."""

    def __init__(self, lines: EventLines) -> None:
        self.lines = lines
        self._open: Counter[int] = Counter()
        self._lock = threading.Lock()

    def begin(self, job: int) -> None:
        with self._lock:
            self._open[job] += 1

    def end(self, job: int) -> None:
        with self._lock:
            self._open[job] -= 1
            over = self._open[job] <= 0
            if over:
                del self._open[job]
        if over:
            self.lines.write({"done": job})


class FollowedPool(Executor):
    """The restarts' pool: what a job hands on to it counts as that job's work until it ends."""

    def __init__(self, pool: ThreadPoolExecutor, jobs: Jobs) -> None:
        self.pool = pool
        self.jobs = jobs

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        job = _job.get()
        if job is not None:
            self.jobs.begin(job)
        future = self.pool.submit(fn, *args, **kwargs)
        if job is not None:
            future.add_done_callback(lambda _: self.jobs.end(job))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def lazy_request(job: dict[str, Any]) -> BoltRequest:
    """The front end's request again, asking Bolt for the one lazy function (as Bolt's AWS Lambda
    adapter asks it of the function it invokes)."""
    headers = {**job["headers"], "x-slack-bolt-lazy-only": ["1"], "x-slack-bolt-lazy-function-name": [job["lazy"]]}
    return BoltRequest(body=job["body"], headers=headers, mode=str(job.get("mode") or "http"))


def serve_jobs(bolt: App, work: Executor, jobs: Jobs, stdin: TextIO) -> None:
    """Every job until stdin closes, each on `work` (the caller then waits for them)."""

    def run(job: dict[str, Any]) -> None:
        token = _job.set(int(job["id"]))
        try:
            bolt.dispatch(lazy_request(job))
        except Exception:  # Bolt answers a listener's error itself; this is a job it could not read
            log.exception("slack_work_job_failed", lazy=job.get("lazy"))
        finally:
            _job.reset(token)
            jobs.end(int(job["id"]))

    for raw in stdin:
        try:
            job = json.loads(raw)
            jobs.begin(int(job["id"]))
        except (ValueError, KeyError, TypeError):
            log.error("slack_work_job_unreadable", line=raw[:200])
            continue
        work.submit(run, job)


def protocol_out() -> TextIO:
    """Our stdout, kept for the lines to the front end; anything else printing to stdout goes to
    stderr from here on, never into the protocol."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


Build = Callable[[MetricLines, Callable[[ThreadPoolExecutor], Executor]], tuple[App, Executor, Callable[[], None]]]


def slack_work(build: Build, stdin: TextIO = sys.stdin) -> int:
    """`build(metrics, restarts_around)`: the Bolt app, its listener pool and what closes it all
    (the listener pool, the restarts' pool, the Notifier's last updates, the hosts, the store)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    lines = EventLines(protocol_out())
    jobs = Jobs(lines)
    bolt, work, close = build(MetricLines(lines), lambda pool: FollowedPool(pool, jobs))
    try:
        serve_jobs(bolt, work, jobs, stdin)
    finally:
        close()  # the work in flight ends first: its `done` lines go out before ours close
        with contextlib.suppress(OSError):
            lines.close()
    return 0
