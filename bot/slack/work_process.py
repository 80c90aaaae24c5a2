"""The Slack work process, as the front end sees it. `aspreset serve` (the front end) answers Slack
within its 3 s: the signature check and each listener's ack function run there and nothing else.
The work after each ack (a listener's lazy function: parse, plan, status reads over WinRM, the
replies, the Notifier following the runners) goes to ONE long-lived process of its own, started
here (`aspreset serve --slack-work`, bot/slack/work_child.py), so that it never competes with the
acks for the front end's interpreter.

How it hands a lazy function over is Bolt's own extension point for it (`LazyListenerRunner`,
installed as `app.listener_runner.lazy_listener_runner`, as Bolt's AWS Lambda adapter does): the
request goes to the work process as one JSON line on its stdin (the raw body, the headers and the
lazy function's name), and there Bolt's dispatch runs only that lazy function, as it does for a
request that carries `x-slack-bolt-lazy-only`. Handing over never waits: a writer thread feeds the
pipe from a queue.

The work process answers on its stdout, one JSON line each: `{"done": ID}` once a job's work has
ended, and the measures its Slack calls, request events and WinRM errors make (bot/metrics/forwarded.py),
counted into this process's /metrics. If it dies, a new one is started and each person whose work
it had taken and not finished is told, through their request's `response_url`, that it may not have
finished (a restart itself runs in a runner process and is recorded there to its end)."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import structlog
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.request import BoltRequest
from slack_sdk.webhook import WebhookClient

from bot.metrics.forwarded import FrontMetrics, apply_line

log = structlog.get_logger("aspreset.slack.work")

STOP_WITHIN_S = 900.0  # the work in flight has ended by then (each host call has its own deadline)
SHORT_LIFE_S = 5.0  # a work process that ended sooner is started again only after this long (no loop of starts)
LOST = ("Your last aspreset command may not have finished: the bot's worker process stopped unexpectedly "
        "and has been restarted. Check `/recycle requests` before asking again.")


def job_line(job: int, function_name: str, request: BoltRequest) -> str:
    """What the front end writes to the work process for one lazy function."""
    body: str | dict[str, Any] = request.raw_body if request.mode == "http" else request.body
    return json.dumps({"id": job, "lazy": function_name, "mode": request.mode, "body": body,
                       "headers": {k: list(v) for k, v in request.headers.items()}}) + "\n"


def tell_by_response_url(response_url: str, text: str) -> None:
    """Only the asker sees it, as Bolt's `respond()` would say it."""
    try:
        WebhookClient(response_url, timeout=10).send(text=text, response_type="ephemeral", replace_original=False)
    except Exception as error:  # Slack away too: the log says who was not told
        log.warning("lost_work_not_told", error=type(error).__name__)


@dataclass
class _Job:
    response_url: str | None
    generation: int = 0  # the work process it was written to (0: not yet written)


class SlackWorkProcess:
    def __init__(self, argv: Sequence[str], metrics: FrontMetrics, *,
                 tell: Callable[[str, str], None] = tell_by_response_url, stop_within_s: float = STOP_WITHIN_S) -> None:
        """`argv` starts the work process with this front end's files (`aspreset serve --slack-work
        --config FILE`); the environment is inherited."""
        self._argv = list(argv)
        self._metrics = metrics
        self._tell = tell
        self._stop_within_s = stop_within_s
        self._lines: queue.SimpleQueue[tuple[int, str] | None] = queue.SimpleQueue()
        self._lock = threading.Condition()  # also: a work process is there to write to
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count(1)
        self._generation = 0
        self._process: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []
        self._closing = False
        self._closed = threading.Event()
        self._started_at = 0.0
        self._writer = threading.Thread(target=self._write, name="slack-work-writer", daemon=True)

    def start(self) -> Self:
        with self._lock:
            self._spawn()
        self._writer.start()
        return self

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    def in_flight(self) -> int:
        """Jobs handed over whose work has not ended yet."""
        with self._lock:
            return len(self._jobs)

    def hand(self, function_name: str, request: BoltRequest) -> None:
        """Queue the lazy function's job; never waits for the pipe."""
        job = next(self._ids)
        response_url = request.body.get("response_url") if isinstance(request.body, dict) else None
        with self._lock:
            self._jobs[job] = _Job(str(response_url) if response_url else None)
        self._lines.put((job, job_line(job, function_name, request)))

    def close(self) -> None:
        """After the front end stopped taking requests: what is queued is written, the work process's
        stdin closes, it finishes what it has (bounded) and exits; then this returns. Once."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._lock.notify_all()
        self._closed.set()
        self._lines.put(None)
        self._writer.join()
        with self._lock:
            process, readers = self._process, list(self._readers)
        if process is not None:
            try:
                process.wait(timeout=self._stop_within_s)
            except subprocess.TimeoutExpired:  # it goes on alone (its own session); its runs are in the store
                log.error("slack_work_not_ended", pid=process.pid, waited_s=self._stop_within_s)
        for reader in readers:
            reader.join(timeout=10)

    def _spawn(self) -> None:
        """Under the lock: a new work process and the thread reading it."""
        self._generation += 1
        self._started_at = time.monotonic()
        # its own session: Ctrl-C in a terminal reaches the front end only, which stops it by its stdin
        self._process = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         start_new_session=True)
        reader = threading.Thread(target=self._read, args=(self._process, self._generation),
                                  name=f"slack-work-reader-{self._generation}", daemon=True)
        self._readers = [r for r in self._readers if r.is_alive()] + [reader]
        reader.start()
        self._lock.notify_all()

    def _write(self) -> None:
        while (item := self._lines.get()) is not None:
            job, line = item
            with self._lock:
                while self._process is None and not self._closing:  # the next one is on its way
                    self._lock.wait()
                process, self._jobs[job].generation = self._process, self._generation
            try:
                if process is None or process.stdin is None:
                    raise ValueError("no work process: serve is stopping")
                process.stdin.write(line)
                process.stdin.flush()
            except (OSError, ValueError):  # it died with this job: a new one comes, but this job is lost
                log.warning("slack_work_gone_before_its_job", job=job)
                self._lost(job)
        with self._lock:
            process = self._process
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()

    def _read(self, process: subprocess.Popen[str], generation: int) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            try:
                line = json.loads(raw)
                if "done" in line:
                    with self._lock:
                        self._jobs.pop(int(line["done"]), None)
                elif not apply_line(line, self._metrics):
                    log.warning("slack_work_line_unknown", line=raw[:200])
            except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
                log.warning("slack_work_line_unreadable", line=raw[:200])
        process.stdout.close()
        exit_code = process.wait()
        with self._lock:
            lost = [job for job in self._jobs.values() if job.generation == generation]
            self._jobs = {i: job for i, job in self._jobs.items() if job.generation != generation}
            again = not self._closing
            if self._process is process:
                self._process = None  # jobs wait for the next one
        if again or lost:
            log.error("slack_work_ended", pid=process.pid, exit_code=exit_code, jobs_lost=len(lost), restarting=again)
        self._tell_lost(lost)
        if again and time.monotonic() - self._started_at < SHORT_LIFE_S:
            self._closed.wait(SHORT_LIFE_S)  # it ended at its start (its stderr says why): again, not in a loop
        with self._lock:
            if not self._closing:
                self._spawn()

    def _lost(self, job: int) -> None:
        """A job whose line could not be written (the work process had died)."""
        with self._lock:
            lost = self._jobs.pop(job, None)
        self._tell_lost([lost] if lost is not None else [])

    def _tell_lost(self, lost: list[_Job]) -> None:
        for job in lost:
            if job.response_url:
                self._tell(job.response_url, LOST)


class HandToSlackWork(LazyListenerRunner):
    """Bolt's lazy listener runner in the front end: each lazy function goes to the work process."""

    def __init__(self, work: SlackWorkProcess) -> None:
        self.logger = logging.getLogger("aspreset.slack.work")
        self.work = work

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        name = request.lazy_function_name
        if name is None:  # Bolt names every lazy request it starts; without one nothing could find it
            raise ValueError(f"a lazy request without its function's name ({function!r})")
        self.work.hand(name, request)
